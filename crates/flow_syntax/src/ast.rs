//! The typed syntax tree. Names mirror the grammar's rules; every node has a byte span.

use flow_diagnostics::Span;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct File {
    pub decls: Vec<Decl>,
    /// The declarations that did not parse (each has a syntax error), in file order.
    pub broken: Vec<Broken>,
}

/// A declaration that did not parse: the checker checks the others, and skips what needs this one.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken {
    /// The name it declares, when its header got that far (`map to_contact(` → `to_contact`).
    pub name: Option<String>,
    /// Every word in it, sorted: what it may use.
    pub uses: Vec<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decl {
    Secret(SecretDecl),
    Api(ApiDecl),
    Type(TypeDecl),
    Endpoint(EndpointDecl),
    Map(MapDecl),
    Flow(FlowDecl),
    Table(TableDecl),
    Function(FnDecl),
    Test(TestDecl),
}

impl Decl {
    pub fn name(&self) -> &Ident {
        match self {
            Decl::Secret(d) => &d.name,
            Decl::Api(d) => &d.name,
            Decl::Type(d) => &d.name,
            Decl::Endpoint(d) => &d.name,
            Decl::Map(d) => &d.name,
            Decl::Flow(d) => &d.name,
            Decl::Table(d) => &d.name,
            Decl::Function(d) => &d.name,
            Decl::Test(d) => &d.name,
        }
    }

    /// What kind of declaration this is, as a user would say it.
    pub fn kind(&self) -> &'static str {
        match self {
            Decl::Secret(_) => "secret",
            Decl::Api(_) => "api",
            Decl::Type(_) => "type",
            Decl::Endpoint(_) => "endpoint",
            Decl::Map(_) => "map",
            Decl::Flow(_) => "flow",
            Decl::Table(_) => "table",
            Decl::Function(_) => "fn",
            Decl::Test(_) => "test",
        }
    }

    pub fn span(&self) -> Span {
        match self {
            Decl::Secret(d) => d.span,
            Decl::Api(d) => d.span,
            Decl::Type(d) => d.span,
            Decl::Endpoint(d) => d.span,
            Decl::Map(d) => d.span,
            Decl::Flow(d) => d.span,
            Decl::Table(d) => d.span,
            Decl::Function(d) => d.span,
            Decl::Test(d) => d.span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecretDecl {
    pub name: Ident,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiDecl {
    pub name: Ident,
    pub props: Vec<Property>,
    pub span: Span,
}

/// `name = value` inside an api, endpoint or flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TypeDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    /// Written with a trailing `?`: the value may be null or absent.
    pub nullable: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeExprKind {
    /// `String`, `Order`, …
    Name(Ident),
    /// `"open"`: one member of a string-literal union.
    Literal(String),
    /// `"open" | "closed"`.
    Union(Vec<TypeExpr>),
    /// `[T]`.
    Array(Box<TypeExpr>),
    /// `{ a: T, b: U }`.
    Object(Vec<FieldDecl>),
    /// `DateTime(unix_seconds)`, `Decimal(string)`: a type with its wire form, written as a
    /// call (an [`ExprKind::Call`]); the checker reads its arguments.
    Formed(Box<Expr>),
    /// `{ [String]: T }`: a dictionary; `key` is the key type as written.
    Dict { key: Ident, value: Box<TypeExpr> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldDecl {
    pub name: Ident,
    /// `name?: T`: the field may be absent, and output leaves it out when it has no value.
    pub optional: bool,
    /// `sensitive name: T`: its value is masked in dead letters, logs, events and errors.
    pub sensitive: bool,
    /// `name: T | null`: the field is always present and may be null; absence is a mismatch
    /// when decoding, and output always writes it (`null` when null). `ty` is as written before
    /// the `| null`.
    pub present: bool,
    pub ty: TypeExpr,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointDecl {
    pub name: Ident,
    pub api: Ident,
    pub method: Method,
    pub path: StrLit,
    pub params: Vec<Param>,
    pub response: Option<TypeExpr>,
    pub props: Vec<Property>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MapDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: TypeExpr,
    pub items: Vec<MapItem>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MapItem {
    Let(Let),
    Field(FieldAssign),
    /// `...expr`: the fields of an object, under the map's explicit fields.
    Spread(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Let {
    pub name: Ident,
    pub ty: Option<TypeExpr>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldAssign {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// `table countries: String -> String { "DE" => "Germany", … }`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDecl {
    pub name: Ident,
    pub key: TypeExpr,
    pub value: TypeExpr,
    pub entries: Vec<(Expr, Expr)>,
    pub span: Span,
}

/// `fn full_name(c: Customer) -> String = c.first + " " + c.last`.
#[derive(Debug, Clone, PartialEq)]
pub struct FnDecl {
    pub name: Ident,
    pub params: Vec<Param>,
    pub ret: TypeExpr,
    pub body: Expr,
    pub span: Span,
}

/// `test "name" { let …  expect … }`. `name` holds the test's title (not an identifier).
#[derive(Debug, Clone, PartialEq)]
pub struct TestDecl {
    pub name: Ident,
    pub items: Vec<TestItem>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TestItem {
    Let(Let),
    Expect(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowDecl {
    pub name: Ident,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    Let(Let),
    For(For),
    /// A call of an endpoint, for its effect.
    Call(Expr),
    /// `on_error = …`, `concurrency = …`.
    Property(Property),
    /// `state since: DateTime = "…" { from = record.updated_at, … }`.
    State(StateDecl),
}

/// A flow's durable incremental cursor: `state NAME: TYPE = INITIAL { settings }`.
#[derive(Debug, Clone, PartialEq)]
pub struct StateDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    pub initial: Expr,
    /// `from`, `key`, `lag`, `sorted`, `checkpoint_every`, `checkpoint_interval`, `store_key`.
    pub props: Vec<Property>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct For {
    pub var: Ident,
    pub source: Expr,
    pub filter: Option<Expr>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Str(String),
    Int(i64),
    /// A number with a fraction or exponent, kept as written so Decimal stays exact.
    Number(String),
    /// A duration, in milliseconds.
    Duration(u64),
    /// `10/s`, `600/min`: requests per period (milliseconds).
    Rate {
        requests: u64,
        per_ms: u64,
    },
    Bool(bool),
    Null,
    Name(Ident),
    Field {
        base: Box<Expr>,
        name: Ident,
        /// `?.`: null or absent base gives null instead of an error.
        optional: bool,
    },
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    Call {
        callee: Ident,
        args: Vec<Arg>,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    Lambda {
        param: Ident,
        body: Box<Expr>,
    },
    /// `expr catch default`.
    Catch {
        expr: Box<Expr>,
        default: Box<Expr>,
    },
    Match {
        scrutinee: Box<Expr>,
        arms: Vec<MatchArm>,
    },
    Object(Vec<ObjectItem>),
    Array(Vec<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct MatchArm {
    pub patterns: Vec<Pattern>,
    pub body: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// `None` is the wildcard `_` (or a type pattern); otherwise a literal expression.
    pub literal: Option<Expr>,
    /// A type pattern, `c: Customer`: a member of the union matched, bound to the name.
    pub member: Option<(Ident, TypeExpr)>,
    pub span: Span,
}

impl Pattern {
    /// The wildcard `_`.
    pub fn is_wildcard(&self) -> bool {
        self.literal.is_none() && self.member.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ObjectItem {
    Field(ObjectField),
    /// `...base`
    Spread(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectField {
    pub name: Ident,
    pub value: Expr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Coalesce,
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Coalesce => "??",
            BinaryOp::Or => "||",
            BinaryOp::And => "&&",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }
}

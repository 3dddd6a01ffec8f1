//! A property: a map that checks without errors never reaches an internal error of the evaluator
//! ("the checker should have refused this"), and what it writes has its declared type.
//!
//! Random well-typed maps are built from the language's forms, with the ones that once let the
//! poison type through on purpose (`[]` beside `??`, `if` and comparisons, `null?.x`, lambdas
//! over defaults), run on random records of their input type, directly and through `flowc map`'s
//! writer. Deterministic: a fixed seed and a fixed number of cases, so a failure reproduces and
//! the time does not depend on the machine.

use flow_plan::{NamedType, Type};

/// Programs generated, and records each is run on.
const PROGRAMS: usize = 300;
const RECORDS: usize = 12;

/// The generator's types: the input record's field types and what maps write.
#[derive(Clone, Debug, PartialEq)]
enum T {
    Int,
    Dec,
    Flt,
    Str,
    Bool,
    Date,
    Dt,
    /// `"a" | "b" | "c"`
    Kind,
    /// `Item { count: Int, name: String?, price: Decimal }`
    Item,
    Arr(Box<T>),
    Opt(Box<T>),
    /// `{ key, items }`, a group of `group_by`: only ever a lambda's parameter.
    Group,
}

use T::*;

fn arr(t: T) -> T {
    Arr(Box::new(t))
}

fn opt(t: T) -> T {
    Opt(Box::new(t))
}

fn spelled(t: &T) -> String {
    match t {
        Int => "Int".into(),
        Dec => "Decimal".into(),
        Flt => "Float".into(),
        Str => "String".into(),
        Bool => "Bool".into(),
        Date => "Date".into(),
        Dt => "DateTime".into(),
        Kind => "Kind".into(),
        Item => "Item".into(),
        Arr(t) => format!("[{}]", spelled(t)),
        Opt(t) => format!("{}?", spelled(t)),
        Group => "{ key: Int, items: [Item] }".into(),
    }
}

const HEADER: &str = r##"type Kind = "a" | "b" | "c"
type Item { count: Int, name: String?, price: Decimal }
type Row {
  n: Int
  m: Int?
  d: Decimal
  f: Float
  s: String
  t: String?
  ok: Bool
  day: Date
  at: DateTime
  kind: Kind
  items: [Item]
  more: [Item]?
  tags: [String]
  opt_tags?: [String]
  best: Item?
  text_date: String
}

fn tagged(label: String, n: Int) -> String = label + "#" + str(n)

table codes: Kind -> String {
  "a" => "A",
  "b" => "B",
}
"##;

/// The input's fields: (path, type).
fn row() -> Vec<(&'static str, T)> {
    vec![
        ("r.n", Int),
        ("r.m", opt(Int)),
        ("r.d", Dec),
        ("r.f", Flt),
        ("r.s", Str),
        ("r.t", opt(Str)),
        ("r.ok", Bool),
        ("r.day", Date),
        ("r.at", Dt),
        ("r.kind", Kind),
        ("r.items", arr(Item)),
        ("r.more", opt(arr(Item))),
        ("r.tags", arr(Str)),
        ("r.opt_tags", opt(arr(Str))),
        ("r.best", opt(Item)),
        ("r.text_date", Str),
        ("r.best?.count", opt(Int)),
        ("r.best?.name", opt(Str)),
        ("r.best?.price", opt(Dec)),
    ]
}

/// What the output fields may be.
fn out_types() -> Vec<T> {
    vec![
        Int,
        Dec,
        Flt,
        Str,
        Bool,
        Date,
        Dt,
        Kind,
        Item,
        arr(Int),
        arr(Str),
        arr(Item),
        arr(arr(Str)),
        opt(Int),
        opt(Str),
        opt(Item),
        opt(Dec),
    ]
}

struct Gen {
    state: u64,
    /// Variables in scope besides `r`: lambda parameters and `let`s.
    vars: Vec<(String, T)>,
    lambdas: usize,
}

impl Gen {
    fn next(&mut self, n: usize) -> usize {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, choices: &'a [String]) -> &'a str {
        &choices[self.next(choices.len())]
    }

    /// Paths of exactly type `t`: the record's fields and the variables in scope (and an
    /// item variable's fields).
    fn paths(&self, t: &T) -> Vec<String> {
        let mut out: Vec<String> = row().into_iter().filter(|(_, ty)| ty == t).map(|(p, _)| p.to_string()).collect();
        for (name, ty) in &self.vars {
            if ty == t {
                out.push(name.clone());
            }
            if *ty == Item {
                for (f, fty) in [("count", Int), ("name", opt(Str)), ("price", Dec)] {
                    if fty == *t {
                        out.push(format!("{name}.{f}"));
                    }
                }
            }
        }
        out
    }

    /// An array of items, and a lambda variable bound to one item while `body` is generated.
    fn lambda(&mut self, item: T, body: impl FnOnce(&mut Gen, &str) -> String) -> String {
        self.lambdas += 1;
        let var = format!("x{}", self.lambdas);
        self.vars.push((var.clone(), item));
        let b = body(self, &var);
        self.vars.pop();
        format!("{var} => {b}")
    }

    /// A condition that is not a literal (an `if` on a literal is a warning, and one branch dead).
    fn cond(&mut self, depth: usize) -> String {
        if depth == 0 || self.next(3) == 0 {
            let p = self.paths(&Bool);
            return self.pick(&p).to_string();
        }
        self.expr(&Bool, depth - 1, false)
    }

    /// An expression of type `t` (assignable to it; joinable with any other of `t`). `typed`:
    /// the place it stands in says its type (a field, a typed let), so `[]` and `null` may
    /// stand alone.
    fn expr(&mut self, t: &T, depth: usize, typed: bool) -> String {
        let paths = self.paths(t);
        if depth == 0 || self.next(5) == 0 {
            return self.leaf(t, &paths, typed);
        }
        let d = depth - 1;
        // Forms any type has.
        match self.next(10) {
            0 => {
                let c = self.cond(d);
                let (a, b) = (self.expr(t, d, false), self.expr(t, d, false));
                return format!("(if {c} then {a} else {b})");
            }
            1 if !matches!(t, Opt(_)) => {
                let o = self.nullable_of(t, d);
                let b = self.expr(t, d, false);
                return format!("({o} ?? {b})");
            }
            2 => {
                let k = self.pick(&self.paths(&Kind)).to_string();
                let arms: Vec<String> =
                    ["\"a\"", "\"b\" | \"c\""].iter().map(|p| format!("{p} => {}", self.expr(t, d, false))).collect();
                return format!("(match {k} {{ {} }})", arms.join(", "));
            }
            _ => {}
        }
        let form = self.next(12);
        match t {
            Int => match form {
                0 => format!("({} + {})", self.expr(&Int, d, false), self.expr(&Int, d, false)),
                1 => format!("len({})", self.expr(&Str, d, false)),
                2 => format!("count({})", self.expr(&arr(Item), d, false)),
                3 => {
                    let a = self.expr(&arr(Item), d, false);
                    let l = self.lambda(Item, |g, x| format!("{x}.count + {}", g.expr(&Int, d, false)));
                    format!("sum({a}, {l})")
                }
                4 => format!("(parse_int({}) catch {})", self.expr(&Str, d, false), self.expr(&Int, d, false)),
                5 => format!("days_between({}, {})", self.expr(&Date, d, false), self.expr(&Date, d, false)),
                6 => format!("floor({})", self.expr(&Dec, d, false)),
                7 => format!("ceil({})", self.expr(&Flt, d, false)),
                8 => format!("int({})", self.expr(&Dec, d, false)),
                9 => {
                    let a = self.expr(&arr(Item), d, false);
                    let l = self.lambda(Item, |g, x| format!("{x}.price < {}", g.expr(&Dec, d, false)));
                    format!("count({a}, {l})")
                }
                10 => format!("(parse_int({}) catch fail(\"not a number\"))", self.expr(&Str, d, false)),
                _ => format!("len({})", self.expr(&arr(Str), d, false)),
            },
            Dec => match form {
                0 => format!("({} + {})", self.expr(&Dec, d, false), self.expr(&Dec, d, false)),
                1 => format!("({} * 2.5)", self.expr(&Dec, d, false)),
                2 => {
                    let a = self.expr(&arr(Item), d, false);
                    let l = self.lambda(Item, |g, x| format!("{x}.price * {}", g.expr(&Int, d, false)));
                    format!("sum({a}, {l})")
                }
                3 => format!("round({}, 2)", self.expr(&Dec, d, false)),
                4 => format!("(parse_decimal({}) catch 0.5)", self.expr(&Str, d, false)),
                5 => format!("decimal({})", self.expr(&Int, d, false)),
                6 => format!("({} / 4)", self.expr(&Int, d, false)),
                _ => self.expr(&Int, d, false),
            },
            Flt => match form {
                0 => format!("({} + {})", self.expr(&Flt, d, false), self.expr(&Flt, d, false)),
                1 => format!("({} * 0.5)", self.expr(&Flt, d, false)),
                2 => format!("float({})", self.expr(&Int, d, false)),
                3 => format!("(parse_float({}) catch r.f)", self.expr(&Str, d, false)),
                4 => format!("max({}, {})", self.expr(&Flt, d, false), self.expr(&Flt, d, false)),
                _ => format!("abs({})", self.expr(&Flt, d, false)),
            },
            Str => match form {
                0 => format!("({} + {})", self.expr(&Str, d, false), self.expr(&Str, d, false)),
                1 => format!("lower({})", self.expr(&Str, d, false)),
                2 => {
                    let scalar = [Int, Dec, Bool, Date, Dt][self.next(5)].clone();
                    format!("str({})", self.expr(&scalar, d, false))
                }
                3 => format!("join({}, \",\")", self.expr(&arr(Str), d, false)),
                4 => format!("format(\"{{}}-{{}}\", {}, {})", self.expr(&Str, d, false), self.expr(&Int, d, false)),
                5 => format!("format_date({}, \"%d.%m.%Y\")", self.expr(&Date, d, false)),
                6 => {
                    let (l, n) = (self.expr(&Str, d, false), self.expr(&Int, d, false));
                    if self.next(2) == 0 {
                        format!("tagged(n: {n}, label: {l})")
                    } else {
                        format!("tagged({l}, n: {n})")
                    }
                }
                7 => format!("upper(trim({}))", self.expr(&Str, d, false)),
                8 => format!("substring({}, {}, 2)", self.expr(&Str, d, false), self.next(5) as i64 - 2),
                9 => format!("pad_left(replace({}, \"a\", \"b\"), 4, \"0\")", self.expr(&Str, d, false)),
                10 => format!("regex_replace({}, \"[0-9]+\", \"#\")", self.expr(&Str, d, false)),
                11 => format!("(codes[{}] ?? \"?\")", self.pick(&self.paths(&Kind))),
                _ => self.expr(&Kind, d, false),
            },
            Bool => match form {
                0 => format!("({} < {})", self.expr(&Int, d, false), self.expr(&Int, d, false)),
                1 => format!("({} >= {})", self.expr(&Dec, d, false), self.expr(&Dec, d, false)),
                2 => format!("(lower({}) == lower({}))", self.expr(&Str, d, false), self.expr(&Str, d, false)),
                3 => format!("({} && !{})", self.cond(d), self.cond(d)),
                4 => {
                    let a = self.expr(&arr(Item), d, false);
                    let l = self.lambda(Item, |g, x| format!("{x}.count > {}", g.expr(&Int, d, false)));
                    format!("any({a}, {l})")
                }
                5 => format!("({} == [])", self.expr(&arr(Str), d, false)),
                6 => format!("({} == null)", self.nullable_of(&Str, d)),
                8 => format!("starts_with({}, {})", self.expr(&Str, d, false), self.expr(&Str, d, false)),
                9 => format!("matches({}, \"^[a-z]\")", self.expr(&Str, d, false)),
                10 => {
                    let a = self.expr(&arr(Str), d, false);
                    let l = self.lambda(Str, |g, x| format!("len({x}) > {}", g.expr(&Int, d, false)));
                    format!("all({a}, {l})")
                }
                11 => format!("({} < {})", self.expr(&Date, d, false), self.expr(&Date, d, false)),
                _ => format!("contains(r.tags, {})", self.expr(&Str, d, false)),
            },
            Date => match form {
                0 => format!("date({})", self.expr(&Dt, d, false)),
                1 => format!("add_days({}, {})", self.expr(&Date, d, false), self.next(40) as i64 - 20),
                _ => format!(
                    "(parse_date({}, \"%Y-%m-%d\") catch {})",
                    self.expr(&Str, d, false),
                    self.expr(&Date, d, false)
                ),
            },
            Dt => match form {
                0 => format!("to_timezone({}, \"Europe/Berlin\")", self.expr(&Dt, d, false)),
                1 => format!("({} + 90m)", self.expr(&Dt, d, false)),
                _ => format!(
                    "(parse_datetime({}, \"%Y-%m-%d %H:%M\", \"America/New_York\") catch {})",
                    self.expr(&Str, d, false),
                    self.expr(&Dt, d, false)
                ),
            },
            Kind | Group => self.leaf(t, &paths, typed),
            // An object literal only beside an `Item`: two literals need not join.
            Item => match form {
                0 | 1 => format!("(first({}) ?? {})", self.expr(&arr(Item), d, false), self.item_literal(d)),
                2 | 3 => {
                    let (base, n) = (self.expr(&Item, d, false), self.expr(&Int, d, false));
                    format!("(last(r.items) ?? {{ ...{base}, count: {n} }})")
                }
                4 => {
                    let a = self.expr(&arr(Item), d, false);
                    let l = self.lambda(Item, |_, x| format!("{x}.price"));
                    format!("(min({a}, {l}) ?? {})", self.expr(&Item, d, false))
                }
                _ => format!("({} ?? {})", self.nullable_of(&Item, d), self.expr(&Item, d, false)),
            },
            Arr(item) => self.array(item, d, typed, &paths),
            Opt(inner) => match form {
                0 if typed => "null".into(),
                // Always null, and typed so: `null?.x` once passed as the poison type.
                1 if typed && **inner == Int => "null?.count".into(),
                1 if typed && **inner == Str => "null?.name".into(),
                2 => format!("(if {} then null else {})", self.cond(d), self.expr(inner, d, false)),
                3 | 4 => self.nullable_of(inner, d),
                _ => self.expr(inner, d, false),
            },
        }
    }

    /// An expression of type `t?` whose null is possible: for `??` and comparisons with null.
    fn nullable_of(&mut self, t: &T, d: usize) -> String {
        let mut paths = self.paths(&opt(t.clone()));
        match t {
            Item => {
                let a = self.expr(&arr(Item), d, false);
                let l = self.lambda(Item, |g, x| format!("{x}.count >= {}", g.expr(&Int, d, false)));
                paths.push(format!("find({a}, {l})"));
                paths.push(format!("{a}[{}]", self.next(3)));
            }
            Str => {
                paths.push(format!("capture({}, \"([a-z]+)\")", self.expr(&Str, d, false)));
                paths.push(format!("first({})", self.expr(&arr(Str), d, false)));
            }
            Int => {
                let a = self.expr(&arr(Item), d, false);
                let l = self.lambda(Item, |_, x| format!("{x}.count"));
                paths.push(format!("max(map({a}, {l}))"));
            }
            Arr(item) if **item == Item => paths.push("r.more".into()),
            Arr(item) if **item == Str => paths.push("r.opt_tags".into()),
            _ => {}
        }
        if paths.is_empty() {
            // No nullable source of this type: make one.
            return format!("(if {} then null else {})", self.cond(d), self.expr(t, d, false));
        }
        self.pick(&paths).to_string()
    }

    fn item_literal(&mut self, d: usize) -> String {
        let (c, n, p) = (self.expr(&Int, d, false), self.expr(&Str, d, false), self.expr(&Dec, d, false));
        format!("{{ count: {c}, name: {n}, price: {p} }}")
    }

    fn array(&mut self, item: &T, d: usize, typed: bool, paths: &[String]) -> String {
        let t = arr(item.clone());
        match self.next(7) {
            // The other side of `??` says what `[]` holds.
            0 => format!("({} ?? [])", self.nullable_of(&t, d)),
            1 => format!("(if {} then [] else {})", self.cond(d), self.expr(&t, d, false)),
            2 => format!("flatten([{}, []])", self.expr(&t, d, false)),
            3 if typed => "[]".into(),
            4 if *item != Item => {
                let (a, b) = (self.expr(item, d, false), self.expr(item, d, false));
                format!("[{a}, {b}]")
            }
            5 => {
                // A lambda over a default: the item type comes from the other side of `??`.
                let src = "(r.more ?? [])";
                match item {
                    Int => {
                        let l = self.lambda(Item, |g, x| format!("{x}.count + {}", g.expr(&Int, d, false)));
                        format!("map({src}, {l})")
                    }
                    Str => {
                        let l = self.lambda(Item, |g, x| format!("{x}.name ?? {}", g.expr(&Str, d, false)));
                        format!("map({src}, {l})")
                    }
                    Item => {
                        let l = self.lambda(Item, |g, x| format!("{x}.price > {}", g.expr(&Dec, d, false)));
                        format!("filter({src}, {l})")
                    }
                    Arr(inner) if **inner == Str => {
                        let l = self.lambda(Item, |_, x| format!("split({x}.name ?? \"\", \",\")"));
                        format!("map({src}, {l})")
                    }
                    _ => self.leaf(&t, paths, typed),
                }
            }
            6 if *item == Str => {
                let s = self.expr(&Str, d, false);
                format!("split({s}, \",\")")
            }
            6 if *item == Item => {
                let a = self.expr(&t, d, false);
                let l = self.lambda(Item, |g, x| format!("lower({x}.name ?? {})", g.expr(&Str, d, false)));
                format!("sort_by({a}, {l})")
            }
            6 if *item == Int => {
                let a = self.expr(&arr(Item), d, false);
                let l = self.lambda(Item, |_, x| format!("{x}.count"));
                let k = self.lambda(Group, |_, g| format!("{g}.key"));
                format!("map(group_by({a}, {l}), {k})")
            }
            6 => format!("distinct({})", self.expr(&t, d, false)),
            _ => self.leaf(&t, paths, typed),
        }
    }

    fn leaf(&mut self, t: &T, paths: &[String], typed: bool) -> String {
        if !paths.is_empty() && self.next(3) != 0 {
            return self.pick(paths).to_string();
        }
        match t {
            Int => format!("{}", self.next(20) as i64 - 5),
            Dec => format!("{}.{}", self.next(100), self.next(10)),
            Flt => "r.f".into(),
            Str => ["\"\"", "\"x\"", "\"a b\"", "\"12\""][self.next(4)].into(),
            Bool => "r.ok".into(),
            Date => "r.day".into(),
            Dt => "r.at".into(),
            Kind => ["\"a\"", "\"b\"", "\"c\"", "r.kind"][self.next(4)].into(),
            Item => "(r.best ?? { count: 1, name: null, price: 1.5 })".into(),
            Arr(item) => match &**item {
                Int => "[1, 2]".into(),
                Str => "r.tags".into(),
                Item => "r.items".into(),
                Arr(_) => "[[], r.tags]".into(),
                other => format!("[{}]", self.leaf(other, &[], false)),
            },
            Opt(_) if typed => "null".into(),
            Opt(inner) => self.leaf(inner, &[], false),
            Group => "r".into(),
        }
    }

    /// A whole file: the header, a map from `Row` to `Out` with some `let`s and one field per
    /// output type drawn.
    fn program(&mut self) -> String {
        let all = out_types();
        let fields: Vec<T> = (0..3 + self.next(5)).map(|_| all[self.next(all.len())].clone()).collect();
        let mut src = String::from(HEADER);
        src.push_str("type Out {\n");
        for (i, t) in fields.iter().enumerate() {
            src.push_str(&format!("  f{i}: {}\n", spelled(t)));
        }
        src.push_str("}\n\nmap m(r: Row) -> Out {\n");
        self.vars.clear();
        for i in 0..self.next(3) {
            let t = all[self.next(all.len())].clone();
            let typed = self.next(2) == 0;
            let value = self.expr(&t, 3, typed);
            if typed {
                src.push_str(&format!("  let l{i}: {} = {value}\n", spelled(&t)));
                self.vars.push((format!("l{i}"), t));
            } else {
                // An untyped let's type is what the value gives: only the forms that give
                // exactly `t` are named, so later uses join.
                src.push_str(&format!("  let _l{i} = {value}\n"));
            }
        }
        for (i, t) in fields.iter().enumerate() {
            let value = self.expr(t, 3, true);
            src.push_str(&format!("  f{i} = {value}\n"));
        }
        src.push_str("}\n");
        src
    }

    /// A random record of the input type, as JSON text.
    fn record(&mut self) -> String {
        let texts = ["", "abc", "12", "2024-02-29", "2025-13-01", "a,b,c", "Zoë", "2026-03-01 08:30", "-7", "1.25"];
        let text = |g: &mut Gen| serde_json::to_string(texts[g.next(texts.len())]).unwrap_or_default();
        let item = |g: &mut Gen| {
            let name = if g.next(3) == 0 { "null".into() } else { text(g) };
            format!("{{\"count\":{},\"name\":{name},\"price\":{}.{}}}", g.next(9) as i64 - 2, g.next(50), g.next(100))
        };
        let items = |g: &mut Gen| {
            let n = g.next(4);
            let items: Vec<String> = (0..n).map(|_| item(g)).collect();
            format!("[{}]", items.join(","))
        };
        let tags = |g: &mut Gen| {
            let n = g.next(4);
            let texts: Vec<String> = (0..n).map(|_| text(g)).collect();
            format!("[{}]", texts.join(","))
        };
        let maybe = |g: &mut Gen, v: String| if g.next(3) == 0 { "null".to_string() } else { v };
        let mut fields = vec![
            format!("\"n\":{}", self.next(200) as i64 - 100),
            format!("\"m\":{}", {
                let v = self.next(50).to_string();
                maybe(self, v)
            }),
            format!("\"d\":{}.{:02}", self.next(1000), self.next(100)),
            format!("\"f\":{}.5", self.next(100) as i64 - 50),
            format!("\"s\":{}", text(self)),
            format!("\"t\":{}", {
                let v = text(self);
                maybe(self, v)
            }),
            format!("\"ok\":{}", self.next(2) == 0),
            format!("\"day\":\"20{:02}-{:02}-{:02}\"", 10 + self.next(20), 1 + self.next(12), 1 + self.next(28)),
            format!(
                "\"at\":\"2026-{:02}-{:02}T{:02}:30:00+01:00\"",
                1 + self.next(12),
                1 + self.next(28),
                self.next(24)
            ),
            format!("\"kind\":\"{}\"", ["a", "b", "c"][self.next(3)]),
            format!("\"items\":{}", items(self)),
            format!("\"more\":{}", {
                let v = items(self);
                maybe(self, v)
            }),
            format!("\"tags\":{}", tags(self)),
            format!("\"best\":{}", {
                let v = item(self);
                maybe(self, v)
            }),
            format!("\"text_date\":{}", text(self)),
        ];
        if self.next(2) == 0 {
            fields.push(format!("\"opt_tags\":{}", tags(self)));
        }
        format!("{{{}}}", fields.join(","))
    }
}

fn named(types: &[NamedType], name: &str) -> Type {
    Type::Named(types.iter().position(|t| t.name == name).expect("the type is declared"))
}

#[test]
fn maps_that_check_never_reach_an_internal_error_and_write_their_declared_types() {
    let mut g = Gen { state: 0x5eed_1234_abcd_9876, vars: Vec::new(), lambdas: 0 };
    let (mut runs, mut delivered) = (0, 0);
    for case in 0..PROGRAMS {
        let source = g.program();
        let checked = flow_check::check_source(&source);
        let errors: Vec<String> =
            checked.diagnostics.iter().filter(|d| d.is_error()).map(|d| format!("{}: {}", d.code, d.message)).collect();
        assert!(errors.is_empty(), "case {case}: a well-typed map was refused: {errors:#?}\n{source}");
        let plan = flow_eval::Program::new(checked.model.expect("a model").into_plan());
        let index = plan.maps.iter().position(|m| m.name == "m").expect("map m");
        let map = &plan.maps[index];
        let out_ty = named(&plan.types, "Out");
        let lines: Vec<String> = (0..RECORDS).map(|_| g.record()).collect();
        for line in &lines {
            runs += 1;
            let record = flow_eval::decode_text(line, &map.param_types[0], &plan.types)
                .unwrap_or_else(|e| panic!("case {case}: the generated record does not decode: {e:?}\n{line}"));
            match flow_eval::eval::run_map(map, vec![record], &plan) {
                Ok(value) => {
                    delivered += 1;
                    let text = flow_eval::encode(&value);
                    if let Err(e) = flow_eval::decode_text(&text, &out_ty, &plan.types) {
                        panic!("case {case}: the output is not an `Out` ({e:?})\n{text}\ninput {line}\n{source}");
                    }
                }
                Err(e) => {
                    assert!(!e.message.contains("internal error"), "case {case}: {}\ninput {line}\n{source}", e.message)
                }
            }
        }
        // `flowc map`'s writer: its rejects are the evaluator's failures, never internal ones.
        let (mut out, mut rejects) = (Vec::new(), Vec::new());
        flow_eval::mapper::map_ndjson(&plan, index, lines.join("\n").as_bytes(), &mut out, &mut rejects).expect("io");
        let rejects = String::from_utf8_lossy(&rejects);
        assert!(!rejects.contains("internal error"), "case {case}: {rejects}\n{source}");
    }
    // The property says something only if most runs deliver a record.
    assert!(delivered * 2 > runs, "only {delivered} of {runs} runs delivered a record");
}

//! The registry of diagnostic codes. Numbers are explicit and never reused, so old bug reports
//! keep their meaning (no code has been retired yet; the registry has no mark for one). Every code has an entry in
//! `docs/diagnostics.md` and a test that asserts it (the tidy test in `tests/docs.rs` checks both,
//! and says what counts as asserting).
//!
//! Ranges: E00xx input and syntax, E01xx names, E02xx types and maps, E03xx endpoints,
//! E04xx apis and secrets, E05xx flows, E0601–E0610 state, E0611–E0619 drift from an OpenAPI spec
//! (`flowc check --spec`), W0xxx warnings, R0xxx run-time failures.

use crate::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub id: &'static str,
    pub severity: Severity,
    /// One line: what the code means.
    pub summary: &'static str,
}

macro_rules! codes {
    ($($name:ident = $id:literal, $sev:ident, $summary:literal;)*) => {
        $(pub const $name: Code = Code { id: $id, severity: Severity::$sev, summary: $summary };)*
        /// Every code, in number order.
        pub const CODES: &[Code] = &[$($name),*];
    };
}

codes! {
    SYNTAX = "E0001", Error, "the source does not follow the grammar";
    NOT_UTF8 = "E0002", Error, "the file is not valid UTF-8";
    TOO_DEEP = "E0003", Error, "brackets or expressions nested too deeply";
    UNTERMINATED_STRING = "E0004", Error, "a string not closed on its line";
    UNCLOSED = "E0005", Error, "a bracket that is not closed";
    DANGLING_OPERATOR = "E0006", Error, "an operator at the end of a line with nothing after it";
    MISSING_COMMA = "E0007", Error, "a comma missing between two arguments, items or parameters";
    DURATION_SPELLING = "E0008", Error, "a duration written with a space or a unit word (`20 sec`)";
    STRAY_CLOSER = "E0009", Error, "a closing bracket that closes nothing";
    FOREIGN_OPERATOR = "E0010", Error, "an operator of another language (`and`, `or`, `not`, `===`)";
    TERNARY = "E0011", Error, "a `condition ? a : b`, written `if condition then a else b` in flow";
    SINGLE_QUOTES = "E0012", Error, "a string in single quotes";
    COLON_FOR_EQUALS = "E0013", Error, "`name: value` where the block takes `name = value`";
    EQUALS_FOR_COLON = "E0014", Error, "`name = value` where a type, object or parameter list takes `name: value`";
    BRACELESS_BLOCK = "E0015", Error, "a block written by indentation, without braces";
    RESERVED_NAME = "E0016", Error, "a reserved word used as a name";
    MISSING_COLON = "E0017", Error, "a `:` missing between a name and its type";

    DUPLICATE = "E0101", Error, "a name is declared twice";
    UNKNOWN_NAME = "E0102", Error, "an unknown value name";
    UNKNOWN_TYPE = "E0103", Error, "an unknown type name";
    UNKNOWN_FIELD = "E0104", Error, "a field that the type does not have";
    UNKNOWN_API = "E0105", Error, "an endpoint names an api that is not declared";
    UNKNOWN_CALLEE = "E0106", Error, "a call of a function, map or endpoint that does not exist";
    UNKNOWN_PROPERTY = "E0107", Error, "a property that the block does not take";
    WRONG_KIND = "E0108", Error, "a name used as something it is not";

    TYPE_MISMATCH = "E0201", Error, "a value of the wrong type";
    NULLABLE = "E0202", Error, "a value that may be null where null is not allowed";
    MISSING_FIELD = "E0203", Error, "a map or object leaves a required field unset";
    EXTRA_FIELD = "E0204", Error, "a map or object sets a field the target type does not have";
    NOT_IN_UNION = "E0205", Error, "a string outside a string-literal union";
    FIELD_TWICE = "E0206", Error, "a field set twice";
    BAD_ARGUMENTS = "E0207", Error, "a call with the wrong arguments";
    BODY_MISMATCH = "E0208", Error, "a request body of another type than the endpoint declares";
    BAD_OPERANDS = "E0209", Error, "an operator applied to types it does not take";
    DECIMAL_FLOAT = "E0210", Error, "Decimal and Float mixed in arithmetic";
    BAD_UNION = "E0211", Error, "a union type whose members are not all string literals";
    INT_RANGE = "E0212", Error, "a number literal outside the range of its type";
    TYPE_CYCLE = "E0213", Error, "a type defined only in terms of itself";
    MAP_CYCLE = "E0214", Error, "maps or functions that call each other in a cycle";
    UNHANDLED_FAILURE = "E0215", Error, "an operation that can fail, not handled";
    BAD_LITERAL_ARGUMENT = "E0216", Error, "an invalid regex, date format, time zone or date literal";
    NOT_EXHAUSTIVE = "E0217", Error, "a `match` that does not cover every value";
    EMPTY_ARRAY = "E0218", Error, "an empty array whose item type nothing says";
    BAD_TYPE_FORM = "E0219", Error, "a wire form that the type cannot have";
    IMPOSSIBLE_TIME_FORM = "E0220", Error, "a time format or zone of a declared form that can never read a time";
    STORE_KEY_SECRET = "E0221", Error, "a state's `store_key` that does not name a declared secret";
    DICT_KEY = "E0222", Error, "a dictionary type whose keys are not `String`";
    DICT_KEY_TWICE = "E0223", Error, "a dictionary literal that gives a key twice";
    STORE_KEY_TWICE = "E0224", Error, "two flows naming different secrets as the one state store's key";
    FROM_JSON = "E0225", Error, "a `Json` value used where a value of a declared type is wanted";
    JSON_COMPARED = "E0226", Error, "a `Json` value compared with `==` or `!=`";
    SENSITIVE_INLINE = "E0227", Error, "`sensitive` on a field of an inline object type";
    PRESENT_AND_ABSENT = "E0228", Error, "a field declared both always present (`| null`) and maybe absent (`?`)";
    UNION_AMBIGUOUS = "E0230", Error, "a union whose members JSON could write alike, or a type that cannot be a member";
    UNION_UNTAGGED = "E0231", Error, "object members of a union that no tag field tells apart";
    UNION_FIELD = "E0232", Error, "a field read from a union that not every member has";
    NOT_A_MEMBER = "E0233", Error, "a type pattern that is not a member of the union matched";
    DERIVED_FIELD_UNKNOWN = "E0238", Error, "a field named in `pick` or `omit` that the type does not have";
    DERIVED_NOT_OBJECT = "E0239", Error, "a type derived from a type that is not an object type";
    DERIVATION_MISWRITTEN = "E0240", Error, "a type derivation with the wrong arguments, or written outside a `type` declaration";
    DERIVATION_CYCLE = "E0241", Error, "a type derived from itself";

    BAD_RECORDS = "E0301", Error, "a records path that the response type does not have";
    BAD_PAGINATION = "E0302", Error, "a pagination rule that does not fit the response type";
    PATH_PARAMS = "E0303", Error, "path placeholders and endpoint parameters do not match";
    NOT_A_SOURCE = "E0304", Error, "a `for` over an endpoint that does not declare its records";
    PAGE_RECORDS_THROUGH_RESPONSE = "E0305", Error, "a paging expression that reads the records through `response` instead of `records`";
    ANSWER_ERROR_WHEN = "E0306", Error, "an `error_when` that is not a Bool over an object answer";
    ANSWER_ERROR_MESSAGE = "E0307", Error, "an `error_message` that is not text";
    ANSWER_ERROR_TRANSIENT = "E0308", Error, "an `error_transient` that is not a Bool";
    ANSWER_ERROR_ALONE = "E0309", Error, "an `error_message` or `error_transient` without `error_when`";

    BAD_URL = "E0401", Error, "an invalid URL";
    BAD_DURATION = "E0402", Error, "an invalid or out-of-range duration";
    INSECURE_HTTP = "E0403", Error, "plain http:// to a host that is not this machine";
    BAD_AUTH = "E0404", Error, "an auth setting that flowc does not understand";
    SECRET_LEAK = "E0405", Error, "a secret used anywhere but auth and headers";
    MISSING_PROPERTY = "E0406", Error, "a block misses a required property";
    BAD_PROPERTY = "E0407", Error, "a property with an invalid value";
    BAD_SIGNING_KEY = "E0408", Error, "a JWT signing key that cannot sign";

    BAD_ON_ERROR = "E0501", Error, "an invalid error policy";
    BAD_STATEMENT = "E0502", Error, "a flow statement that does nothing or cannot run";

    STATE_TYPE = "E0601", Error, "a state cursor whose type is not DateTime, Int or String";
    STATE_INITIAL = "E0602", Error, "a state's initial value is not a literal of its type";
    STATE_PLACE = "E0603", Error, "a state declared twice in a flow, or inside a loop";
    STATE_UNREAD = "E0604", Error, "a state that no source reads, or that more than one reads";
    STATE_FROM = "E0605", Error, "a state's `from` or `key` that is not a field of the source's records";
    STATE_FROM_TYPE = "E0606", Error, "a cursor field whose type is not the state's";
    STATE_KEY = "E0607", Error, "a state's `key` that is not a String or Int field";
    STATE_LAG = "E0608", Error, "a `lag` that is not a duration, or on a cursor that is not a DateTime";
    STATE_SETTING = "E0609", Error, "a state setting with a value it cannot take";
    NO_STATE = "E0610", Error, "`state` read where no state is declared";
    SPEC_UNREADABLE = "E0611", Error, "a `--spec` file that is not an OpenAPI document in JSON or YAML";
    SPEC_NO_OPERATION = "E0612", Error, "an endpoint whose method and path the spec does not have";
    SPEC_NO_FIELD = "E0613", Error, "a declared field the spec's schema does not have";
    SPEC_TYPE = "E0614", Error, "a type that differs from the spec's";
    SPEC_PRESENCE = "E0615", Error, "a field whose presence or nullability differs from the spec's";
    SPEC_ENUM = "E0616", Error, "string literals that differ from the spec's enumeration";
    SPEC_API = "E0617", Error, "no api of the file, or more than one, is the one the spec describes";
    SPEC_LINK = "E0618", Error, "a `// spec:` link above a type that names no schema of the spec";
    SPEC_PARAM = "E0619", Error, "a query, header or path parameter that differs from the spec's";

    HTTP_STATUS = "R0001", Error, "the API answered with an error status";
    REQUEST_FAILED = "R0002", Error, "the request could not be sent or timed out";
    NOT_JSON = "R0003", Error, "the response body is not JSON";
    SHAPE = "R0004", Error, "the response does not match the declared type";
    EVAL = "R0005", Error, "an expression failed at run time";
    MISSING_SECRET = "R0006", Error, "a secret has no value in the environment or .env";
    DEAD_LETTER = "R0007", Error, "a record could not be written to the dead letter store";
    PAGINATION_CYCLE = "R0008", Error, "the API returned a cursor or next URL it returned before";
    CROSS_ORIGIN = "R0009", Error, "a next-page link to another host, or from https to http";
    TEST_FAILED = "R0010", Error, "an expectation of a `test` does not hold";
    TOO_MANY_PAGES = "R0011", Error, "a source returned more pages than its `max_pages`";
    OUTCOME_UNKNOWN = "R0012", Error, "a write failed in a way that may have applied it, and cannot be repeated safely";
    AUTH_FAILED = "R0013", Error, "credentials could not be obtained or were refused";
    STATE_STORE = "R0014", Error, "the state store cannot be opened, read or written";
    STATE_LOCKED = "R0015", Error, "another run holds the flow's state";
    STATE_MISMATCH = "R0016", Error, "the stored state does not fit the flow's declared state";
    DEAD_LETTER_FILE = "R0017", Error, "a dead letter file that `flowc replay --from` cannot read, lock or rewrite";
    NOT_A_DEAD_LETTER = "R0018", Error, "a line of a dead letter file that is not a dead letter";
    DEAD_LETTER_NOT_SENT = "R0019", Error, "dead letters of a file that `flowc replay --from` leaves unsent: their flow declares `state`, or is not a flow of the file";
    NO_STATE_STORE = "R0020", Error, "there is no state store where a command that reads one looks";
    DEAD_LETTER_MISFIT = "R0021", Error, "a dead letter that no longer fits its flow: its record does not match the loop's record type, or the loop is gone";
    STATE_VALUE = "R0022", Error, "a cursor value that is not of the flow's declared cursor type, or a flow without state";
    PAGE_UNREADABLE = "R0024", Error, "the next page could not be worked out from the last one";
    ANSWER_ERROR = "R0025", Error, "an answer with a 2xx status that its api or endpoint declares an error";
    MASKED_REPLAY = "R0026", Error, "a dead letter kept with its sensitive fields masked cannot be replayed";
    CALL_TOO_DEEP = "R0029", Error, "maps or functions that recurse deeper than the call limit";
    SECRET_NOT_RESTORED = "R0030", Error, "a dead letter that held a secret's value which a replay cannot write back: the secret has no value now, or it was written in a way flowc cannot write again";

    UNUSED = "W0001", Warning, "a declaration that nothing uses";
    UNUSED_LET = "W0002", Warning, "a `let` whose value is never used";
    UNREACHABLE = "W0003", Warning, "a `match` arm that can never be taken";
    NEEDLESS_CATCH = "W0004", Warning, "a `catch` on an expression that cannot fail";
    TLS_UNVERIFIED = "W0005", Warning, "TLS certificate verification turned off for an api";
    NEEDLESS_DEFAULT = "W0006", Warning, "a `??` default on a value that is never null";
    CONSTANT_CONDITION = "W0007", Warning, "an `if` whose condition is always the same";
    SHORT_SECRET = "W0008", Warning, "a secret too short to redact safely";
    NULLABLE_CURSOR = "W0009", Warning, "a cursor field that may be null or absent";
    NO_STATE_KEY = "W0010", Warning, "a state without a `key`: records at the cursor may be delivered again";
    SENSITIVE_STORED = "W0011", Warning, "a `sensitive` field used as a state's cursor or key: its values are kept in the state store";
    SPEC_MISSING_PARAM = "W0012", Warning, "a parameter the spec requires that the endpoint does not always send";
    KEEPS_NOTHING = "W0013", Warning, "an empty object type: it accepts any object and keeps none of it";
    SPEC_MISSING_FIELD = "W0014", Warning, "a field the spec requires that the type does not declare";
    SPEC_NOT_COMPARED = "W0015", Warning, "a part of the spec that `flowc check --spec` cannot compare";
    DERIVED_FIELD_TWICE = "W0016", Warning, "a field named twice in `pick` or `omit`";
}

/// Looks up a code by id.
pub fn lookup(id: &str) -> Option<Code> {
    CODES.iter().copied().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_sorted() {
        let ids: Vec<&str> = CODES.iter().map(|c| c.id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids, sorted);
        assert_eq!(lookup("E0001"), Some(SYNTAX));
    }

    #[test]
    fn severity_follows_the_letter() {
        for c in CODES {
            let warning = c.id.starts_with('W');
            assert_eq!(c.severity == Severity::Warning, warning, "{}", c.id);
        }
    }
}

use super::*;

/// Imports a spec given as JSON text, and asserts the output checks without errors and is laid
/// out as the formatter lays it out.
fn imported(spec: &str, options: &Options) -> Import {
    let spec = read_spec(spec, false).expect("spec");
    let import = import(&spec, options).expect("import");
    let checked = flow_check::check_source(&import.text);
    let errors: Vec<_> = checked.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{}", import.text);
    assert_eq!(flow_syntax::format(&import.text).expect("formats"), import.text);
    import
}

const PETS: &str = r##"{
  "openapi": "3.0.3",
  "info": { "title": "Pet Store", "version": "1.0" },
  "servers": [{ "url": "https://{region}.pets.example.com/v1", "variables": { "region": { "default": "eu" } } }],
  "security": [{ "key": [] }],
  "components": {
    "securitySchemes": { "key": { "type": "apiKey", "in": "header", "name": "X-Api-Key" } },
    "schemas": {
      "pet": {
        "type": "object",
        "required": ["id", "name", "kind", "born", "owner"],
        "properties": {
          "id": { "type": "integer" },
          "name": { "type": "string" },
          "nickname": { "type": "string", "nullable": true },
          "kind": { "type": "string", "enum": ["cat", "dog"] },
          "born": { "type": "string", "format": "date-time" },
          "created": { "type": "integer", "format": "unix-time" },
          "weight": { "type": "number" },
          "tags": { "type": "array", "items": { "type": "string" } },
          "labels": { "type": "object", "additionalProperties": { "type": "string" } },
          "extra": {},
          "owner": { "nullable": true, "anyOf": [{ "$ref": "#/components/schemas/owner" }] },
          "parent": { "$ref": "#/components/schemas/pet" },
          "x-ref": { "type": "string" }
        }
      },
      "owner": {
        "type": "object",
        "required": ["object", "id"],
        "properties": { "object": { "type": "string", "enum": ["owner"] }, "id": { "type": "string" } }
      },
      "shelter": {
        "type": "object",
        "required": ["object", "id"],
        "properties": { "object": { "type": "string", "enum": ["shelter"] }, "id": { "type": "string" } }
      },
      "keeper": {
        "oneOf": [{ "$ref": "#/components/schemas/owner" }, { "$ref": "#/components/schemas/shelter" }],
        "discriminator": { "propertyName": "object" }
      },
      "owner_ref": { "anyOf": [{ "type": "string" }, { "$ref": "#/components/schemas/owner" }] },
      "ambiguous": { "oneOf": [{ "type": "string" }, { "type": "string", "format": "date" }] },
      "page": {
        "type": "object",
        "required": ["data", "has_more"],
        "properties": {
          "data": { "type": "array", "items": { "$ref": "#/components/schemas/pet" } },
          "has_more": { "type": "boolean" }
        }
      }
    }
  },
  "paths": {
    "/pets": {
      "get": {
        "operationId": "listPets",
        "summary": "List the pets",
        "tags": ["pets"],
        "parameters": [
          { "name": "limit", "in": "query", "schema": { "type": "integer" } },
          { "name": "starting_after", "in": "query", "schema": { "type": "string" } },
          { "name": "expand[]", "in": "query", "schema": { "type": "array", "items": { "type": "string" } } }
        ],
        "responses": { "200": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/page" } } } } }
      },
      "post": {
        "operationId": "createPet",
        "tags": ["pets"],
        "requestBody": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/pet" } } } },
        "responses": { "201": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/pet" } } } } }
      }
    },
    "/pets/{pet-id}": {
      "parameters": [{ "name": "pet-id", "in": "path", "required": true, "schema": { "type": "integer" } }],
      "get": {
        "operationId": "getPet",
        "responses": { "200": { "content": { "application/json": { "schema": { "$ref": "#/components/schemas/pet" } } } } }
      },
      "head": { "operationId": "headPet", "responses": { "200": { "description": "ok" } } }
    },
    "/owners": {
      "get": {
        "operationId": "listOwners",
        "tags": ["owners"],
        "parameters": [{ "name": "page", "in": "query", "schema": { "type": "integer" } }],
        "responses": {
          "200": {
            "headers": { "Link": { "schema": { "type": "string" } } },
            "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/owner" } } } }
          }
        }
      }
    }
  }
}"##;

#[test]
fn a_spec_imports_into_a_file_that_checks_and_is_formatted() {
    let import = imported(PETS, &Options::default());
    let t = &import.text;
    // The api: server variables at their defaults, the key from the security scheme.
    assert!(t.contains("base_url = \"https://eu.pets.example.com/v1\""), "{t}");
    assert!(t.contains("auth = api_key(header: \"X-Api-Key\", value: PET_API_KEY)"), "{t}");
    assert!(t.contains("secret PET_API_KEY"), "{t}");
    // Required and nullable, optional, enums, forms, arrays, dictionaries, Json, quoted names.
    for line in [
        "id: Int",
        "nickname?: String",
        "kind: \"cat\" | \"dog\"",
        "born: DateTime",
        "created?: DateTime(unix_seconds)",
        "weight?: Decimal(number)",
        "tags?: [String]",
        "labels?: { [String]: String }",
        "extra?: Json",
        "owner: Owner | null",
        "parent?: Pet",
        "\"x-ref\"?: String",
    ] {
        assert!(t.contains(line), "{line} missing in\n{t}");
    }
    // A tagged union, a scalar-or-object union.
    assert!(t.contains("type Keeper = Owner | Shelter"), "{t}");
    assert!(t.contains("type OwnerRef = String | Owner"), "{t}");
    // Endpoints: parameters, the renamed path parameter, the body, Stripe-like paging.
    assert!(t.contains("endpoint get_pet = pet GET \"/pets/{pet_id}\""), "{t}");
    assert!(
        t.contains("paginate = cursor(param: \"starting_after\", from: last(records)?.id, more: response.has_more)"),
        "{t}"
    );
    assert!(t.contains("records = response.data"), "{t}");
    assert!(t.contains("paginate = link_header()"), "{t}");
    assert!(t.contains("body: Pet"), "{t}");
}

#[test]
fn what_the_language_cannot_say_is_a_comment_and_in_the_report() {
    let import = imported(PETS, &Options::default());
    let t = &import.text;
    // Two string members: not a union JSON can tell apart.
    assert!(t.contains("// lossy: a union of String, Date: two members JSON writes the same way: `Json`"), "{t}");
    assert!(t.contains("type Ambiguous = Json"), "{t}");
    // An array query parameter, HEAD.
    assert!(t.contains("// lossy: the query parameter `expand[]` is not sent"), "{t}");
    assert!(t.contains("// skipped: HEAD /pets/{pet-id}: the method HEAD is not one an endpoint can have"), "{t}");
    let r = &import.report;
    assert_eq!(r.operations, Counts { clean: 3, lossy: 1, skipped: 1 }, "{}", r.render());
    assert_eq!(r.schemas, Counts { clean: 6, lossy: 1, skipped: 0 }, "{}", r.render());
    let rendered = r.render();
    assert!(rendered.contains("schema ambiguous (type Ambiguous) with a loss:"), "{rendered}");
    assert!(rendered.contains("operation HEAD /pets/{pet-id} skipped:"), "{rendered}");
}

#[test]
fn paths_and_tags_select_operations_and_the_schemas_they_use() {
    let import = imported(PETS, &Options { tag: Some("owners".into()), ..Options::default() });
    assert!(import.text.contains("endpoint list_owners"), "{}", import.text);
    assert!(!import.text.contains("endpoint list_pets"), "{}", import.text);
    assert!(import.text.contains("type Owner {"), "{}", import.text);
    assert!(!import.text.contains("type Pet {"), "{}", import.text);
    let import = imported(PETS, &Options { paths: Some("/pets/*".into()), ..Options::default() });
    assert!(import.text.contains("endpoint get_pet"), "{}", import.text);
    assert!(!import.text.contains("endpoint list_pets"), "{}", import.text);
}

#[test]
fn yaml_reads_like_json_and_response_codes_are_keys() {
    let yaml = "openapi: 3.1.0\ninfo: { title: Mini, version: '1' }\nservers: [{ url: 'https://mini.example.com' }]\npaths:\n  /things:\n    get:\n      operationId: things\n      responses:\n        200:\n          content:\n            application/json:\n              schema: { type: array, items: { type: [string, 'null'] } }\n";
    let spec = read_spec(yaml, true).expect("yaml");
    let import = import(&spec, &Options::default()).expect("import");
    assert!(import.text.contains("endpoint things = mini GET \"/things\" -> [String?]"), "{}", import.text);
}

#[test]
fn a_type_the_checker_refuses_is_given_up_for_json_with_its_reason() {
    // Two aliases of each other: no type the checker takes.
    let spec = r##"{"openapi": "3.0.0", "info": {"title": "Loop", "version": "1"}, "paths": {},
      "components": {"schemas": {"a": {"$ref": "#/components/schemas/b"}, "b": {"$ref": "#/components/schemas/a"}}}}"##;
    let import = imported(spec, &Options::default());
    assert!(import.text.contains("Json") && import.text.contains("E0213"), "{}", import.text);
    assert!(import.report.schemas.lossy >= 1, "{}", import.report.render());
}

#[test]
fn not_an_openapi_document_is_refused() {
    let spec = read_spec("[1, 2]", false).expect("json");
    assert!(import(&spec, &Options::default()).is_err());
}

#[test]
fn an_all_of_of_a_string_and_an_annotation_is_the_string_and_of_two_non_objects_is_json() {
    // `allOf: [{$ref: a string}, {description}]` is how specs annotate a `$ref`: the string it
    // names, not a dictionary; members that are not objects cannot be merged, and say so.
    let spec = r##"{"openapi": "3.0.0", "info": {"title": "Stamps", "version": "1"}, "paths": {},
      "components": {"schemas": {
        "stamp": {"type": "string", "format": "date-time"},
        "note": {"type": "string"},
        "event": {"type": "object", "required": ["at", "both"], "properties": {
          "at": {"allOf": [{"$ref": "#/components/schemas/stamp"}, {"description": "when it happened"}]},
          "both": {"allOf": [{"$ref": "#/components/schemas/stamp"}, {"$ref": "#/components/schemas/note"}]}
        }}}}}"##;
    let import = imported(spec, &Options::default());
    let t = &import.text;
    assert!(t.contains("at: Stamp"), "{t}");
    assert!(t.contains("both: Json"), "{t}");
    assert!(t.contains("an `allOf` of members that are not all objects cannot be merged"), "{t}");
}

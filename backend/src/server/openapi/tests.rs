//! The document against the router's table and the `.proto` files.

use super::*;
use crate::server::route::API;

#[test]
fn every_operation_of_the_router_is_documented_and_nothing_else() {
    let doc = build(API);
    let paths = doc["paths"].as_object().unwrap();
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| *k != "parameters")
                .map(move |m| (m.to_ascii_uppercase(), p.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = API
        .iter()
        .flat_map(|s| {
            s.ops
                .iter()
                .map(|op| (op.method.to_owned(), s.path.to_owned()))
        })
        .collect();
    assert_eq!(documented, routed);
    assert!(documented.len() >= 22, "{documented:?}");
}

#[test]
fn schemas_follow_the_protos_in_proto3_json() {
    let doc = build(API);
    let s = &doc["components"]["schemas"];
    let view = &s["ProductView"];
    assert_eq!(view["additionalProperties"], false);
    // uint64 as a string (or a number when read), names in lowerCamelCase, messages by $ref.
    assert_eq!(
        view["properties"]["id"]["type"],
        json!(["string", "integer"])
    );
    assert_eq!(view["properties"]["categorySlug"]["type"], "string");
    assert_eq!(
        view["properties"]["price"]["$ref"],
        "#/components/schemas/Money"
    );
    assert_eq!(view["properties"]["imageUrls"]["items"]["type"], "string");
    assert_eq!(s["StockStatus"]["enum"][1], "IN_STOCK");
    // Comments of proto/ become descriptions.
    assert!(
        s["Availability"]["properties"]["available"]["description"]
            .as_str()
            .unwrap()
            .contains("Units in stock")
    );
    // Everything referenced is defined.
    let text = doc.to_string();
    for r in text.split("#/components/schemas/").skip(1) {
        let name = &r[..r.find('"').unwrap()];
        assert!(
            s.get(name).is_some(),
            "{name} is referenced but not defined"
        );
    }
}

#[test]
fn commands_need_a_key_and_admin_operations_the_token() {
    let doc = build(API);
    let op = &doc["paths"]["/api/admin/stock"]["post"];
    assert_eq!(op["security"][0]["adminToken"], json!([]));
    let key = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .unwrap();
    assert_eq!(key["required"], true);
    assert_eq!(
        doc["paths"]["/api/orders"]["post"]["responses"]["409"]["$ref"],
        "#/components/responses/Error409"
    );
    assert!(
        doc["paths"]["/api/products"]["get"]
            .get("security")
            .is_none()
    );
}

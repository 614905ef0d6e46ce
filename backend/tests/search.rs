//! Search through the real server (port 0, in this process, on librdkafka's mock cluster): a
//! product created or renamed is found by the very next search after its command returns, and
//! a search answers with its facts (facets, highlights, the fallback, "did you mean").

mod support;

use http::{Method, StatusCode};
use support::{Shopper, shop_in_memory};

fn ids(page: &serde_json::Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `totalItems` (proto3 JSON leaves a zero out).
fn total(page: &serde_json::Value) -> u64 {
    page["totalItems"]
        .as_str()
        .map_or(0, |t| t.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_is_found_by_the_next_search_after_its_command_returns() {
    let (_cluster, shop) = shop_in_memory().await;
    let mut admin = Shopper::new(shop.addr);
    admin
        .add_product(1, "Walnut Desk Lamp", "Office", 4999, 5)
        .await;
    // Products spread over more id blocks than a request worker searches itself: these
    // searches run on the search threads.
    for k in 1..=17u64 {
        admin
            .add_product(k * 4096, &format!("Filler {k}"), "Office", 100, 0)
            .await;
    }
    for round in 0..5u64 {
        let id = 100 + round;
        let word = format!("zebrawood{round}");
        // Created: the answer to the command comes after the catalog applied it.
        admin
            .add_product(id, &format!("Tall {word} Shelf"), "Furniture", 1000, 0)
            .await;
        let r = admin
            .get(&format!("/api/products?q={word}"))
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(ids(&r), [id.to_string()], "created, round {round}");
        // Renamed: the old word is gone at once, the new one is there.
        let renamed = format!("ebony{round}");
        admin
            .admin(
                Method::PUT,
                &format!("/api/admin/products/{id}"),
                &format!("rename-{round}"),
                serde_json::json!({"title": format!("Tall {renamed} Shelf"), "description": "", "category": "Furniture",
                    "price": {"minor": 1000, "currency": "EUR"}}),
            )
            .await
            .expect(StatusCode::OK);
        let old = admin
            .get(&format!("/api/products?q={word}+"))
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(total(&old), 0, "renamed away, round {round}");
        let new = admin
            .get(&format!("/api/products?q={renamed}"))
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(ids(&new), [id.to_string()], "renamed, round {round}");
        // Disabled: never found again.
        admin
            .send(
                Method::DELETE,
                &format!("/api/admin/products/{id}"),
                &[
                    ("authorization", &format!("Bearer {}", support::ADMIN_TOKEN)),
                    ("idempotency-key", &format!("disable-{round}")),
                ],
                vec![],
            )
            .await
            .expect(StatusCode::OK);
        let gone = admin
            .get(&format!("/api/products?q={renamed}"))
            .await
            .expect(StatusCode::OK)
            .json();
        assert_eq!(total(&gone), 0, "disabled, round {round}");
    }
    shop.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_answers_with_facets_highlights_and_its_fallbacks() {
    let (_cluster, shop) = shop_in_memory().await;
    let mut s = Shopper::new(shop.addr);
    s.add_product(1, "Walnut Desk Lamp", "Office", 4999, 5)
        .await;
    s.add_product(2, "Brass Desk Lamp", "Office", 6999, 0).await;
    s.add_product(3, "Oak Floor Lamp", "Furniture", 12999, 2)
        .await;
    s.add_product(4, "Café Table", "Furniture", 25000, 1).await;

    let r = s
        .get("/api/products?q=lamps")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(total(&r), 3);
    let facts = &r["search"];
    assert_eq!(
        facts["categories"],
        serde_json::json!([
            {"slug": "furniture", "name": "Furniture", "productCount": "1"},
            {"slug": "office", "name": "Office", "productCount": "2"}
        ])
    );
    assert_eq!(facts["minPrice"]["minor"].as_str(), Some("4999"));
    assert_eq!(facts["maxPrice"]["minor"].as_str(), Some("12999"));
    // "Lamp" is the last word of each title: 4 bytes from byte 12 of "Walnut Desk Lamp".
    let first = &facts["matches"][0];
    assert_eq!(first["productId"].as_str(), Some("1"));
    assert_eq!(
        first["title"],
        serde_json::json!([{"start": 12, "length": 4}])
    );

    // Filters: in stock only, and a price range; counts ignore the category filter.
    let r = s
        .get("/api/products?q=lamp&in_stock=true&max_price=10000")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(&r), ["1"]);
    let r = s
        .get("/api/products?q=lamp&category=office")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(&r), ["1", "2"]);
    assert_eq!(r["search"]["categories"].as_array().unwrap().len(), 2);

    // Diacritics fold, a typo is corrected and said so, a prefix matches while typing.
    assert_eq!(ids(&s.get("/api/products?q=CAFE").await.json()), ["4"]);
    let r = s
        .get("/api/products?q=wallnut")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (ids(&r), r["search"]["didYouMean"].as_str()),
        (vec!["1".to_owned()], Some("walnut"))
    );
    assert_eq!(ids(&s.get("/api/products?q=brass+la").await.json()), ["2"]);

    // Nothing matches every word: the first words do, and the page says so.
    let r = s
        .get("/api/products?q=desk+unicorn")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(ids(&r), ["1", "2"]);
    assert_eq!(r["search"]["wordsMatched"].as_u64(), Some(1));
    assert_eq!(r["search"]["droppedWords"], serde_json::json!(["unicorn"]));
    // Nothing at all: the closest categories.
    let r = s
        .get("/api/products?q=xylophone")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(total(&r), 0);
    assert_eq!(
        r["search"]["closestCategories"].as_array().map(Vec::len),
        Some(2)
    );
    // Relevance by default, any other order on request.
    let r = s
        .get("/api/products?q=lamp&sort=price&order=desc")
        .await
        .json();
    assert_eq!(ids(&r), ["3", "2", "1"]);
    shop.stop().await;
}

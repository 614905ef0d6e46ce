//! A product in the catalog grid: image (or a placeholder), title, price and stock, linking to
//! the product's page. Also the product image used on the detail page.

use shared::proto::{ProductView, TextSpan};
use yew::prelude::*;
use yew_router::prelude::*;

use super::{StockLabel, highlighted};
use frontend::format::price_text;
use frontend::route::Route;
use frontend::stock::StockLevel;

#[derive(Properties, PartialEq)]
pub struct ProductImageProps {
    pub url: Option<AttrValue>,
    pub title: AttrValue,
    #[prop_or_default]
    pub large: bool,
}

/// The product's first image, or a placeholder with its initial so a card never looks broken.
#[component]
pub fn ProductImage(props: &ProductImageProps) -> Html {
    let class = if props.large {
        "product-image product-image--large"
    } else {
        "product-image"
    };
    match &props.url {
        Some(url) => html! {
            // Decorative on cards (the title says what it is); described on the detail page.
            <img class={class} src={url.clone()} loading="lazy" decoding="async"
                alt={if props.large { props.title.clone() } else { AttrValue::Static("") }} />
        },
        None => {
            let initial: String = props
                .title
                .chars()
                .next()
                .map(|c| c.to_uppercase().collect())
                .unwrap_or_default();
            html! {
                <div class={classes!(class, "product-image--placeholder")} aria-hidden="true">
                    <span>{ initial }</span>
                </div>
            }
        }
    }
}

#[derive(Properties, PartialEq)]
pub struct ProductCardProps {
    pub product: ProductView,
    pub for_sale: bool,
    /// Where a search matched the title, to mark it.
    #[prop_or_default]
    pub title_matches: Vec<TextSpan>,
}

#[component]
pub fn ProductCard(props: &ProductCardProps) -> Html {
    let p = &props.product;
    let level = StockLevel::of(p.availability.as_ref(), props.for_sale);
    html! {
        <li class="card-cell">
            <article class="card" data-testid="product-card" data-product-id={p.id.to_string()}>
                <Link<Route> to={Route::Product { id: p.id }} classes="card__link">
                    <ProductImage url={p.image_urls.first().map(|u| AttrValue::from(u.clone()))}
                        title={p.title.clone()} />
                    <h2 class="card__title" data-testid="product-title">{ highlighted(&p.title, &props.title_matches) }</h2>
                </Link<Route>>
                <p class="card__price" data-testid="product-price">{ price_text(p.price.as_ref()) }</p>
                <StockLabel {level} />
            </article>
        </li>
    }
}

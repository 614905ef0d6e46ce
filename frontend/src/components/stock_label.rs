//! A product's stock as the shopper reads it, wherever the product is shown.

use yew::prelude::*;

use frontend::stock::StockLevel;

#[derive(Properties, PartialEq)]
pub struct StockLabelProps {
    pub level: StockLevel,
}

/// "In stock" / "Only 3 left" / "Sold out".
#[component]
pub fn StockLabel(props: &StockLabelProps) -> Html {
    html! {
        <p class={props.level.class()} data-testid="stock-level">{ props.level.text() }</p>
    }
}

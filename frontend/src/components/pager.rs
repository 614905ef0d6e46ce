//! Paging through the catalog's results.

use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct PagerProps {
    pub page: u32,
    pub total_pages: u32,
    pub on_page: Callback<u32>,
}

/// Previous / "Page 2 of 10" / Next.
#[component]
pub fn Pager(props: &PagerProps) -> Html {
    let (page, total) = (props.page, props.total_pages);
    let prev = {
        let on_page = props.on_page.clone();
        Callback::from(move |_: MouseEvent| on_page.emit(page.saturating_sub(1).max(1)))
    };
    let next = {
        let on_page = props.on_page.clone();
        Callback::from(move |_: MouseEvent| on_page.emit(page + 1))
    };
    html! {
        <nav class="pager" aria-label="Pages">
            <button type="button" class="button" data-testid="prev-page"
                disabled={page <= 1} onclick={prev}>{ "← Previous" }</button>
            <span class="pager__info" data-testid="page-info" aria-live="polite">
                { format!("Page {page} of {total}") }
            </span>
            <button type="button" class="button" data-testid="next-page"
                disabled={page >= total} onclick={next}>{ "Next →" }</button>
        </nav>
    }
}

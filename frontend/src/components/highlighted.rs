//! A text with the parts a search matched marked (`<mark>`), from the byte ranges the API sends.

use shared::proto::TextSpan;
use yew::prelude::*;

/// `text` with each span in a `<mark>`; spans out of range or off a character boundary are
/// ignored (the text is then shown as it is).
pub fn highlighted(text: &str, spans: &[TextSpan]) -> Html {
    let mut parts: Vec<Html> = Vec::new();
    let mut at = 0usize;
    let mut spans: Vec<&TextSpan> = spans.iter().collect();
    spans.sort_by_key(|s| s.start);
    for s in spans {
        let (start, end) = (s.start as usize, (s.start + s.length) as usize);
        if start < at
            || end > text.len()
            || !text.is_char_boundary(start)
            || !text.is_char_boundary(end)
        {
            continue;
        }
        parts.push(html! { { text[at..start].to_owned() } });
        parts.push(html! { <mark>{ text[start..end].to_owned() }</mark> });
        at = end;
    }
    parts.push(html! { { text[at..].to_owned() } });
    html! { <>{ for parts }</> }
}

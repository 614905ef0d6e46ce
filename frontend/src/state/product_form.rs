//! The operator's product form: the fields as typed, the API's validation messages next to the
//! field they name, the version the form was read at, and what someone else changed meanwhile
//! (seen live, or refused by the server with 412), so no edit overwrites another silently.

use std::rc::Rc;

use shared::money;
use shared::proto::{AdminProductView, Money, UpsertProduct};
use yew::Reducible;

use super::apply_to_copy;
use crate::notice::Notice;

/// A field of the form, as validation messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Id,
    Title,
    Description,
    LongText,
    Category,
    Price,
    Images,
    /// A message that names no field: shown above the form.
    Form,
}

/// Which field a message of the API (or of this form) is about: they start with its name.
pub fn field_of(message: &str) -> Field {
    let m = message.to_ascii_lowercase();
    let starts = |p: &str| m.starts_with(p);
    if starts("title") {
        Field::Title
    } else if starts("description") {
        Field::Description
    } else if starts("long_text") || starts("long text") {
        Field::LongText
    } else if starts("category") {
        Field::Category
    } else if starts("price") || starts("currency") || m.contains("minor units") {
        Field::Price
    } else if starts("image") || m.contains("image_urls") {
        Field::Images
    } else if starts("product id") || starts("id ") {
        Field::Id
    } else {
        Field::Form
    }
}

/// A price typed in major units ("49", "49.9", "1,234.50", "49,90") as minor units.
pub fn parse_price(text: &str, currency: &str) -> Result<i64, String> {
    let digits = money::minor_digits(currency) as usize;
    let t: String = text.trim().chars().filter(|c| !c.is_whitespace()).collect();
    // A comma with at most `digits` digits after it is a decimal comma; other commas group.
    let t = match t.rfind(',') {
        Some(i) if !t.contains('.') && t.len() - i - 1 <= digits && digits > 0 => {
            format!("{}.{}", t[..i].replace(',', ""), &t[i + 1..])
        }
        _ => t.replace(',', ""),
    };
    let (major, frac) = t.split_once('.').unwrap_or((&t, ""));
    let bad = || format!("price must be an amount like 49.90, got {:?}", text.trim());
    if major.is_empty() && frac.is_empty()
        || !major.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if frac.len() > digits {
        return Err(format!("price has at most {digits} decimals in {currency}"));
    }
    let scale = 10i64.pow(digits as u32);
    let major: i64 = if major.is_empty() {
        0
    } else {
        major.parse().map_err(|_| bad())?
    };
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>().map_err(|_| bad())? * 10i64.pow((digits - frac.len()) as u32)
    };
    major
        .checked_mul(scale)
        .and_then(|m| m.checked_add(frac))
        .ok_or_else(bad)
}

/// Minor units as typed in the form ("49.90").
pub fn price_input(minor: i64, currency: &str) -> String {
    let digits = money::minor_digits(currency);
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(digits);
    format!(
        "{}.{:0width$}",
        minor / scale,
        (minor % scale).abs(),
        width = digits as usize
    )
}

/// What differs between two reads of a product, one line per field ("price: €49.00 → €39.00").
pub fn differences(before: &AdminProductView, after: &AdminProductView) -> Vec<String> {
    let (Some(a), Some(b)) = (&before.product, &after.product) else {
        return vec![];
    };
    let price = |m: &Option<Money>| {
        m.as_ref()
            .map_or_else(String::new, |m| money::format(m.minor, &m.currency))
    };
    let state = |d: bool| if d { "disabled" } else { "for sale" }.to_owned();
    let fields = [
        ("title", a.title.clone(), b.title.clone()),
        ("price", price(&a.price), price(&b.price)),
        ("category", a.category.clone(), b.category.clone()),
        ("state", state(before.disabled), state(after.disabled)),
    ];
    let mut out: Vec<String> = fields
        .into_iter()
        .filter(|(_, x, y)| x != y)
        .map(|(field, x, y)| format!("{field}: {x} → {y}"))
        .collect();
    for (edited, what) in [
        (a.description != b.description, "description edited"),
        (a.long_text != b.long_text, "long text edited"),
        (a.image_urls != b.image_urls, "images changed"),
    ] {
        if edited {
            out.push(what.to_owned());
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProductForm {
    /// Typed for a new product; the product's own otherwise.
    pub id: String,
    pub title: String,
    pub description: String,
    pub long_text: String,
    pub category: String,
    pub price: String,
    pub currency: String,
    /// One URL per line.
    pub image_urls: String,
    /// The product as the form was filled from (None: a new product).
    pub base: Option<AdminProductView>,
    /// Validation messages by field.
    pub errors: Vec<(Field, String)>,
    /// A newer version than `base` that someone else saved, and what it changed.
    pub changed_meanwhile: Option<(AdminProductView, Vec<String>)>,
    pub busy: bool,
    pub notice: Option<Notice>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProductFormAction {
    /// The product as read: fills the form (a new read replaces what was typed).
    Loaded(AdminProductView),
    Edit(Field, String),
    Currency(String),
    /// A fresh read while editing: if its version is not the form's, someone changed it.
    Seen(AdminProductView),
    /// Take the other version into the form (what was typed is dropped).
    TakeTheirs,
    /// Keep editing over the other version (a save then overwrites it, knowingly).
    KeepMine,
    Busy(bool),
    /// A save, price change or stock delivery went through: the product as it is now.
    Saved(AdminProductView, Notice),
    /// The API refused: its message next to its field.
    Refused(String),
    Notice(Option<Notice>),
}

impl ProductForm {
    pub fn new_product() -> ProductForm {
        ProductForm {
            currency: "EUR".into(),
            ..Default::default()
        }
    }

    pub fn error(&self, field: Field) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    /// The version a change names in If-Match: the one the form was read at, or the newer
    /// one the operator chose to overwrite.
    pub fn version(&self) -> Option<String> {
        self.base.as_ref().map(|b| b.version.clone())
    }

    fn fill(&mut self, view: &AdminProductView) {
        if let Some(p) = &view.product {
            self.id = p.id.to_string();
            self.title = p.title.clone();
            self.description = p.description.clone();
            self.long_text = p.long_text.clone();
            self.category = p.category.clone();
            let price = p.price.clone().unwrap_or_default();
            self.currency = price.currency.clone();
            self.price = price_input(price.minor, &price.currency);
            self.image_urls = p.image_urls.join("\n");
        }
        self.base = Some(view.clone());
        self.errors.clear();
        self.changed_meanwhile = None;
    }

    /// The form as the API's upsert, or what is wrong with it (every field checked here is
    /// checked again by the server, whose word is final).
    pub fn upsert(&self) -> Result<(u64, UpsertProduct), Vec<(Field, String)>> {
        let mut errors = vec![];
        let id = match self.id.trim().parse::<u64>() {
            Ok(id) if id > 0 => id,
            _ => {
                errors.push((
                    Field::Id,
                    "product id must be a positive whole number".to_owned(),
                ));
                0
            }
        };
        let currency = self.currency.trim().to_owned();
        let minor = parse_price(&self.price, &currency).unwrap_or_else(|e| {
            errors.push((Field::Price, e));
            0
        });
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok((
            id,
            UpsertProduct {
                title: self.title.clone(),
                description: self.description.clone(),
                long_text: self.long_text.clone(),
                category: self.category.clone(),
                price: Some(money::money(minor, &currency)),
                image_urls: self
                    .image_urls
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
        ))
    }

    pub fn apply(&mut self, action: ProductFormAction) -> bool {
        match action {
            ProductFormAction::Loaded(view) => {
                self.fill(&view);
                self.busy = false;
            }
            ProductFormAction::Edit(field, value) => {
                let slot = match field {
                    Field::Id => &mut self.id,
                    Field::Title => &mut self.title,
                    Field::Description => &mut self.description,
                    Field::LongText => &mut self.long_text,
                    Field::Category => &mut self.category,
                    Field::Price => &mut self.price,
                    Field::Images => &mut self.image_urls,
                    Field::Form => return false,
                };
                *slot = value;
                self.errors.retain(|(f, _)| *f != field);
            }
            ProductFormAction::Currency(c) => self.currency = c,
            ProductFormAction::Seen(view) => {
                // While this form's own command runs, its event is no one else's change.
                let Some(base) = self.base.as_ref().filter(|_| !self.busy) else {
                    return false;
                };
                if base.version == view.version {
                    let changed = self.changed_meanwhile.is_some() || *base != view;
                    // The same product fields: stock or sales may have moved.
                    self.base = Some(view);
                    self.changed_meanwhile = None;
                    return changed;
                }
                let what = differences(base, &view);
                self.changed_meanwhile = Some((view, what));
            }
            ProductFormAction::TakeTheirs => {
                let Some((view, _)) = self.changed_meanwhile.take() else {
                    return false;
                };
                self.fill(&view);
                self.notice = Some(Notice::info("The form now shows the other version."));
            }
            ProductFormAction::KeepMine => {
                let Some((view, _)) = self.changed_meanwhile.take() else {
                    return false;
                };
                // Saving now names the version seen: it overwrites that one, knowingly.
                self.base = Some(view);
                self.notice = Some(Notice::info(
                    "Keeping your edits: saving will replace the other operator's version.",
                ));
            }
            ProductFormAction::Busy(b) => self.busy = b,
            ProductFormAction::Saved(view, notice) => {
                self.fill(&view);
                self.busy = false;
                self.notice = Some(notice);
            }
            ProductFormAction::Refused(message) => {
                self.busy = false;
                let field = field_of(&message);
                self.errors.retain(|(f, _)| *f != field);
                self.errors.push((field, message));
            }
            ProductFormAction::Notice(n) => self.notice = n,
        }
        true
    }
}

impl Reducible for ProductForm {
    type Action = ProductFormAction;

    fn reduce(self: Rc<Self>, action: ProductFormAction) -> Rc<Self> {
        apply_to_copy(self, |next| next.apply(action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::proto::ProductView;

    fn view(version: &str, title: &str, minor: i64) -> AdminProductView {
        AdminProductView {
            product: Some(ProductView {
                id: 7,
                title: title.into(),
                category: "Home".into(),
                price: Some(money::money(minor, "EUR")),
                ..Default::default()
            }),
            version: version.into(),
            ..Default::default()
        }
    }

    #[test]
    fn prices_are_typed_in_major_units() {
        assert_eq!(parse_price("49", "EUR"), Ok(4900));
        assert_eq!(parse_price("49.9", "EUR"), Ok(4990));
        assert_eq!(parse_price(" 1,234.50 ", "EUR"), Ok(123450));
        assert_eq!(parse_price("49,90", "EUR"), Ok(4990));
        assert_eq!(parse_price("1200", "JPY"), Ok(1200));
        assert!(parse_price("49.999", "EUR").is_err());
        assert!(parse_price("abc", "EUR").is_err());
        assert!(parse_price("", "EUR").is_err());
        assert!(parse_price("-5", "EUR").is_err());
        assert_eq!(price_input(4990, "EUR"), "49.90");
        assert_eq!(price_input(1200, "JPY"), "1200");
    }

    #[test]
    fn the_apis_messages_go_next_to_their_field() {
        assert_eq!(
            field_of("title must be between 1 and 200 characters, got 0"),
            Field::Title
        );
        assert_eq!(
            field_of("currency must be an ISO 4217 code of three upper-case letters, got \"eur\""),
            Field::Price
        );
        assert_eq!(
            field_of("category must contain letters or digits"),
            Field::Category
        );
        assert_eq!(
            field_of(
                "image URL \"ftp://x\" must be an http(s) URL with a host, like https://images.example/lamp.jpg: it must start with https:// or http://"
            ),
            Field::Images
        );
        assert_eq!(field_of("at most 10 image_urls"), Field::Images);
        assert_eq!(
            field_of("long_text must be at most 20000 characters, got 20001"),
            Field::LongText
        );
        assert_eq!(field_of("the shop is not ready"), Field::Form);
        let mut f = ProductForm::new_product();
        f.apply(ProductFormAction::Refused(
            "title must be between 1 and 200 characters, got 0".into(),
        ));
        assert!(f.error(Field::Title).is_some());
        f.apply(ProductFormAction::Edit(Field::Title, "Lamp".into()));
        assert_eq!(
            f.error(Field::Title),
            None,
            "typing clears the field's message"
        );
    }

    #[test]
    fn a_version_saved_by_someone_else_is_named_before_saving() {
        let mut f = ProductForm::default();
        f.apply(ProductFormAction::Loaded(view("v1", "Lamp", 4900)));
        assert_eq!(f.price, "49.00");
        f.apply(ProductFormAction::Edit(Field::Title, "My lamp".into()));
        // The same version read again (its stock moved): nothing to say.
        f.apply(ProductFormAction::Seen(view("v1", "Lamp", 4900)));
        assert_eq!(f.changed_meanwhile, None);
        f.apply(ProductFormAction::Seen(view("v2", "Lamp", 3900)));
        let (_, what) = f.changed_meanwhile.clone().unwrap();
        assert_eq!(what, ["price: €49.00 → €39.00"]);
        assert_eq!(
            f.version().as_deref(),
            Some("v1"),
            "a save still names the version read"
        );
        f.apply(ProductFormAction::KeepMine);
        assert_eq!(f.version().as_deref(), Some("v2"));
        assert_eq!(f.title, "My lamp");
        f.apply(ProductFormAction::Seen(view("v3", "Big lamp", 3900)));
        f.apply(ProductFormAction::TakeTheirs);
        assert_eq!(
            (f.title.as_str(), f.price.as_str(), f.version().as_deref()),
            ("Big lamp", "39.00", Some("v3"))
        );
    }

    #[test]
    fn the_form_as_an_upsert() {
        let mut f = ProductForm::new_product();
        for (field, v) in [
            (Field::Id, "12"),
            (Field::Title, "Lamp"),
            (Field::Category, "Home"),
            (Field::Price, "19.5"),
            (Field::Images, "/a.jpg\n\n https://x/b.jpg "),
        ] {
            f.apply(ProductFormAction::Edit(field, v.into()));
        }
        let (id, u) = f.upsert().unwrap();
        assert_eq!(id, 12);
        assert_eq!(u.price, Some(money::money(1950, "EUR")));
        assert_eq!(u.image_urls, ["/a.jpg", "https://x/b.jpg"]);
        f.apply(ProductFormAction::Edit(Field::Id, "x".into()));
        f.apply(ProductFormAction::Edit(Field::Price, "cheap".into()));
        let errors = f.upsert().unwrap_err();
        assert_eq!(
            errors.iter().map(|(f, _)| *f).collect::<Vec<_>>(),
            [Field::Id, Field::Price]
        );
    }
}

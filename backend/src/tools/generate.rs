//! `shop generate`: deterministic demo data (products and stock) for a seed, produced to Kafka or
//! written as CSV files in the import format.
//!
//! Each product and each stock level is drawn from its own random stream, derived from the seed
//! and the product id alone: product 17 of seed 1 is the same whether 20 or a million products
//! are generated, and no product depends on the ones before it.
//!
//! One file past 600 lines because about half of it is the word tables the products are drawn
//! from (`CATEGORIES`, `ADJECTIVES`, ...); the code is some 400 lines.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use prost::Message;
use shared::proto::{
    CatalogEvent, CheckoutEvent, ProductUpsertedV1, StockDeliveredV1, catalog_event, checkout_event,
};

use crate::admin::import::{self, IMAGE_URL_SEPARATOR, PRODUCT_COLUMNS, STOCK_COLUMNS};
use crate::commands::meta;
use crate::config::KafkaConfig;
use crate::engine::kafka::{self, BrokerStatus};

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// Number of products (ids 1 to N).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub products: u64,
    /// The same seed always gives the same products and stock.
    #[arg(long, value_name = "S")]
    pub seed: u64,
    /// Largest stock of one product; about 5% of products get none, the rest 1 to M.
    #[arg(long, value_name = "M", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(import::MAX_STOCK_QUANTITY)))]
    pub stock_max: u32,
    /// Write DIR/products.csv and DIR/stock.csv (the import format) instead of producing to Kafka.
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Do nothing when the catalog topic already holds events (for start-up scripts).
    #[arg(long, conflicts_with = "csv")]
    pub if_empty: bool,
    #[command(flatten)]
    pub kafka: KafkaConfig,
}

pub async fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let GenerateArgs {
        products: n,
        seed,
        stock_max,
        ..
    } = args;
    if let Some(dir) = &args.csv {
        let (products, stock) = write_csv(dir, seed, n, stock_max)?;
        println!(
            "wrote {products} products to {} and {stock} stock rows to {}",
            dir.join("products.csv").display(),
            dir.join("stock.csv").display()
        );
        return Ok(());
    }
    let cfg = &args.kafka;
    import::prepare_topics(cfg).await?;
    if args.if_empty && catalog_events(cfg).await? > 0 {
        println!("catalog not empty, demo data skipped");
        return Ok(());
    }
    let products = (1..=n).map(|id| {
        let event = CatalogEvent {
            event: Some(catalog_event::Event::ProductUpsertedV1(product(seed, id))),
            // An upsert is idempotent by its content; a key would only cost the catalog model a
            // record per product.
            meta: None,
        };
        (id.to_be_bytes(), event.encode_to_vec())
    });
    import::write_all(cfg, &cfg.catalog_topic, "products", n, products).await?;
    // Counted first so the progress bar knows its length; cheap next to producing.
    let stocked = stock_deliveries(seed, n, stock_max).count() as u64;
    let deliveries = stock_deliveries(seed, n, stock_max).map(|d| {
        let id = d.product_id;
        let event = CheckoutEvent {
            event: Some(checkout_event::Event::StockDeliveredV1(d)),
            meta: Some(meta::meta(format!("generate-stock-{seed}-{id}"), 0)),
        };
        (id.to_be_bytes(), event.encode_to_vec())
    });
    import::write_all(cfg, &cfg.checkout_topic, "stock rows", stocked, deliveries).await
}

/// Number of events in the catalog topic.
async fn catalog_events(cfg: &KafkaConfig) -> anyhow::Result<i64> {
    let consumer = kafka::consumer(&cfg.settings(), "generate", BrokerStatus::new())?;
    let topic = cfg.catalog_topic.clone();
    // fetch_watermarks blocks the calling thread.
    tokio::task::spawn_blocking(move || {
        kafka::high_watermark(&consumer, &topic, std::time::Duration::from_secs(10))
    })
    .await?
    .with_context(|| format!("cannot read the size of {}", cfg.catalog_topic))
}

/// Writes `dir/products.csv` and `dir/stock.csv`; returns the number of rows of each.
pub fn write_csv(dir: &Path, seed: u64, n: u64, stock_max: u32) -> anyhow::Result<(u64, u64)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let create = |name: &str| -> anyhow::Result<csv::Writer<BufWriter<File>>> {
        let path = dir.join(name);
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(csv::Writer::from_writer(BufWriter::with_capacity(
            1 << 20,
            file,
        )))
    };
    let (mut id, mut price, mut quantity, mut urls) =
        (String::new(), String::new(), String::new(), String::new());
    let number = |buf: &mut String, n: &dyn std::fmt::Display| {
        buf.clear();
        let _ = write!(buf, "{n}");
    };

    let mut out = create("products.csv")?;
    out.write_record(PRODUCT_COLUMNS)?;
    for p in products(seed, n) {
        number(&mut id, &p.product_id);
        number(&mut price, &p.price_minor);
        urls.clear();
        for (i, u) in p.image_urls.iter().enumerate() {
            if i > 0 {
                urls.push(IMAGE_URL_SEPARATOR);
            }
            urls.push_str(u);
        }
        out.write_record([
            &id,
            &p.title,
            &p.description,
            &p.long_text,
            &p.category,
            &price,
            &p.currency,
            &urls,
        ])?;
    }
    out.into_inner()
        .map_err(|e| e.into_error())?
        .flush()
        .context("cannot write products.csv")?;

    let mut out = create("stock.csv")?;
    out.write_record(STOCK_COLUMNS)?;
    let mut rows = 0;
    for d in stock_deliveries(seed, n, stock_max) {
        number(&mut id, &d.product_id);
        number(&mut quantity, &d.quantity);
        out.write_record([&id, &quantity])?;
        rows += 1;
    }
    out.into_inner()
        .map_err(|e| e.into_error())?
        .flush()
        .context("cannot write stock.csv")?;
    Ok((n, rows))
}

/// Products 1 to `n` of a seed.
pub fn products(seed: u64, n: u64) -> impl Iterator<Item = ProductUpsertedV1> {
    (1..=n).map(move |id| product(seed, id))
}

/// The stock deliveries of products 1 to `n`: one per product with stock (a product without
/// stock gets no delivery; a delivery of 0 is not one the shop accepts).
pub fn stock_deliveries(
    seed: u64,
    n: u64,
    stock_max: u32,
) -> impl Iterator<Item = StockDeliveredV1> {
    (1..=n).filter_map(move |id| {
        let quantity = stock(seed, id, stock_max);
        (quantity > 0).then_some(StockDeliveredV1 {
            product_id: id,
            quantity,
        })
    })
}

/// A product's stock: 0 for about 5% of products, else uniform in 1..=`stock_max`.
pub fn stock(seed: u64, id: u64, stock_max: u32) -> u32 {
    let mut rng = SplitMix64::stream(seed, STOCK_STREAM, id);
    if stock_max == 0 || rng.below(100) < 5 {
        0
    } else {
        1 + rng.below(u64::from(stock_max)) as u32
    }
}

const PRODUCT_STREAM: u64 = 0x5052_4f44; // "PROD"
const STOCK_STREAM: u64 = 0x5354_4f4b; // "STOK"

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for fake data; its output
/// is fixed forever, unlike a library's generator that may change between versions.
struct SplitMix64(u64);

impl SplitMix64 {
    /// The generator of one (seed, stream, id): the inputs are mixed so neighbouring ids and
    /// seeds give unrelated sequences.
    fn stream(seed: u64, stream: u64, id: u64) -> Self {
        let mut r = SplitMix64(seed ^ stream.rotate_left(32));
        let base = r.next();
        SplitMix64(base ^ SplitMix64(id).next())
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply; the bias is below 2^-40 for the small n used here).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.below(words.len() as u64) as usize]
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A category with the things sold in it and what they are made of.
struct Category {
    name: &'static str,
    nouns: &'static [&'static str],
    materials: &'static [&'static str],
}

const CATEGORIES: &[Category] = &[
    Category {
        name: "Home & Garden",
        nouns: &[
            "Planter",
            "Garden Bench",
            "Watering Can",
            "Doormat",
            "Bird Feeder",
            "Lantern",
            "Hose Reel",
            "Wind Chime",
            "Flower Pot",
            "Garden Trowel",
        ],
        materials: &[
            "Terracotta",
            "Cedar",
            "Galvanised Steel",
            "Teak",
            "Rattan",
            "Cast Iron",
            "Bamboo",
            "Stoneware",
        ],
    },
    Category {
        name: "Kitchen",
        nouns: &[
            "Chef's Knife",
            "Cutting Board",
            "Saucepan",
            "Coffee Grinder",
            "Mixing Bowl",
            "Salad Servers",
            "Teapot",
            "Spice Rack",
            "Colander",
            "Butter Dish",
        ],
        materials: &[
            "Stainless Steel",
            "Walnut",
            "Enamel",
            "Copper",
            "Ceramic",
            "Olive Wood",
            "Cast Iron",
            "Glass",
        ],
    },
    Category {
        name: "Office",
        nouns: &[
            "Desk Lamp",
            "Notebook",
            "Pen Holder",
            "Monitor Stand",
            "Desk Organiser",
            "Letter Tray",
            "Bookends",
            "Mouse Pad",
            "Paperweight",
            "Cable Tray",
        ],
        materials: &[
            "Walnut",
            "Oak",
            "Aluminium",
            "Leather",
            "Brass",
            "Felt",
            "Cork",
            "Steel",
        ],
    },
    Category {
        name: "Books",
        nouns: &[
            "Cookbook",
            "Field Guide",
            "Travel Journal",
            "Sketchbook",
            "Atlas",
            "Poetry Collection",
            "Puzzle Book",
            "Photo Book",
            "Recipe Journal",
            "Almanac",
        ],
        materials: &[
            "Hardcover",
            "Paperback",
            "Illustrated",
            "Pocket",
            "Linen-Bound",
            "Spiral-Bound",
            "Large Print",
            "Leather-Bound",
        ],
    },
    Category {
        name: "Toys",
        nouns: &[
            "Building Blocks",
            "Jigsaw Puzzle",
            "Rocking Horse",
            "Train Set",
            "Stacking Rings",
            "Dollhouse",
            "Kite",
            "Spinning Top",
            "Marble Run",
            "Toy Car",
        ],
        materials: &[
            "Wooden",
            "Beechwood",
            "Plush",
            "Felt",
            "Recycled Plastic",
            "Cardboard",
            "Cotton",
            "Maple",
        ],
    },
    Category {
        name: "Bed & Bath",
        nouns: &[
            "Throw Pillow",
            "Duvet Cover",
            "Bath Towel",
            "Bath Mat",
            "Bathrobe",
            "Pillowcase Set",
            "Blanket",
            "Shower Curtain",
            "Hand Towel",
            "Fitted Sheet",
        ],
        materials: &[
            "Linen",
            "Cotton",
            "Wool",
            "Bamboo",
            "Velvet",
            "Waffle Cotton",
            "Flannel",
            "Organic Cotton",
        ],
    },
    Category {
        name: "Furniture",
        nouns: &[
            "Side Table",
            "Bookshelf",
            "Bar Stool",
            "Armchair",
            "Coffee Table",
            "Shoe Rack",
            "Floor Lamp",
            "Sideboard",
            "Footstool",
            "Coat Rack",
        ],
        materials: &[
            "Oak", "Walnut", "Pine", "Rattan", "Velvet", "Steel", "Ash", "Marble",
        ],
    },
    Category {
        name: "Sports & Outdoors",
        nouns: &[
            "Water Bottle",
            "Yoga Mat",
            "Backpack",
            "Camping Mug",
            "Picnic Blanket",
            "Headlamp",
            "Jump Rope",
            "Dry Bag",
            "Trekking Poles",
            "Cooler Bag",
        ],
        materials: &[
            "Stainless Steel",
            "Cork",
            "Canvas",
            "Nylon",
            "Titanium",
            "Ripstop",
            "Recycled Polyester",
            "Aluminium",
        ],
    },
    Category {
        name: "Electronics",
        nouns: &[
            "Portable Speaker",
            "Charging Dock",
            "Desk Clock",
            "Headphone Stand",
            "Power Bank",
            "Wireless Charger",
            "Radio",
            "Phone Stand",
            "Smart Plug",
            "Cable Organiser",
        ],
        materials: &[
            "Aluminium",
            "Walnut",
            "Bamboo",
            "Fabric",
            "Matte Black",
            "Brushed Steel",
            "Oak",
            "Silicone",
        ],
    },
    Category {
        name: "Clothing & Accessories",
        nouns: &[
            "Scarf",
            "Beanie",
            "Tote Bag",
            "Wallet",
            "Belt",
            "Gloves",
            "Socks",
            "Watch Strap",
            "Card Holder",
            "Sun Hat",
        ],
        materials: &[
            "Merino",
            "Cashmere",
            "Leather",
            "Canvas",
            "Linen",
            "Cotton",
            "Alpaca Wool",
            "Suede",
        ],
    },
    Category {
        name: "Pets",
        nouns: &[
            "Dog Bed",
            "Cat Scratcher",
            "Food Bowl",
            "Leash",
            "Collar",
            "Pet Blanket",
            "Treat Jar",
            "Chew Toy",
            "Litter Mat",
            "Pet Carrier",
        ],
        materials: &[
            "Rope",
            "Ceramic",
            "Leather",
            "Sisal",
            "Fleece",
            "Stainless Steel",
            "Canvas",
            "Natural Rubber",
        ],
    },
    Category {
        name: "Beauty & Wellness",
        nouns: &[
            "Soap Bar",
            "Scented Candle",
            "Reed Diffuser",
            "Face Roller",
            "Bath Salts",
            "Hand Cream",
            "Massage Oil",
            "Hair Brush",
            "Body Scrub",
            "Lip Balm",
        ],
        materials: &[
            "Lavender",
            "Rose Quartz",
            "Sandalwood",
            "Eucalyptus",
            "Beeswax",
            "Soy Wax",
            "Shea Butter",
            "Bergamot",
        ],
    },
    Category {
        name: "Arts & Crafts",
        nouns: &[
            "Watercolour Set",
            "Brush Set",
            "Table Easel",
            "Sketch Pad",
            "Knitting Needles",
            "Embroidery Kit",
            "Clay Kit",
            "Paint Palette",
            "Craft Scissors",
            "Pencil Set",
        ],
        materials: &[
            "Beechwood",
            "Bamboo",
            "Birch",
            "Cotton",
            "Steel",
            "Graphite",
            "Porcelain",
            "Recycled Paper",
        ],
    },
];

const ADJECTIVES: &[&str] = &[
    "Classic",
    "Modern",
    "Rustic",
    "Minimalist",
    "Handmade",
    "Vintage",
    "Compact",
    "Deluxe",
    "Nordic",
    "Everyday",
    "Premium",
    "Artisan",
    "Essential",
    "Heritage",
    "Coastal",
    "Urban",
    "Cosy",
    "Elegant",
    "Sturdy",
    "Lightweight",
    "Studio",
    "Signature",
    "Natural",
    "Heirloom",
];

const VARIANTS: &[&str] = &[
    "Set of 2", "Set of 4", "Large", "Small", "Mini", "XL", "Sage", "Charcoal", "Sand", "Ivory",
];

const BENEFITS: &[&str] = &[
    "brings warmth to any room",
    "is built to last for years",
    "is easy to clean and care for",
    "fits neatly into small spaces",
    "makes a thoughtful gift",
    "pairs well with almost any style",
    "is designed for daily use",
    "gets better with age",
    "is made in small batches",
    "feels as good as it looks",
];

const FEATURES: &[&str] = &[
    "finished by hand",
    "with a soft matte finish",
    "with clean, simple lines",
    "sized for everyday use",
    "made from responsibly sourced materials",
    "tested for durability",
    "designed in our own studio",
    "with a generous two-year warranty",
];

const CLOSERS: &[&str] = &[
    "Ships in plastic-free packaging.",
    "Care instructions included.",
    "Each piece is slightly unique.",
    "Backed by a two-year warranty.",
    "Pairs well with the rest of the collection.",
    "Free returns within 30 days.",
];

/// Builds one product of a seed; every call with the same arguments gives the same product.
pub fn product(seed: u64, id: u64) -> ProductUpsertedV1 {
    let mut rng = SplitMix64::stream(seed, PRODUCT_STREAM, id);
    let category = &CATEGORIES[rng.below(CATEGORIES.len() as u64) as usize];
    let noun = rng.pick(category.nouns);
    let material = rng.pick(category.materials);
    let adjective = rng.pick(ADJECTIVES);

    let mut title = String::with_capacity(48);
    if rng.chance(70) {
        title.push_str(adjective);
        title.push(' ');
    }
    title.push_str(material);
    title.push(' ');
    title.push_str(noun);
    if rng.chance(20) {
        title.push_str(", ");
        title.push_str(rng.pick(VARIANTS));
    }

    let mut description = String::with_capacity(160);
    match rng.below(3) {
        0 => {
            description.push_str(if article(adjective) == "an" {
                "An"
            } else {
                "A"
            });
            description.push(' ');
            push_lower(&mut description, adjective);
            description.push(' ');
            push_lower(&mut description, material);
            description.push(' ');
            push_lower(&mut description, noun);
            description.push_str(" that ");
            description.push_str(rng.pick(BENEFITS));
            description.push('.');
        }
        1 => {
            description.push_str("This ");
            push_lower(&mut description, material);
            description.push(' ');
            push_lower(&mut description, noun);
            description.push(' ');
            description.push_str(rng.pick(BENEFITS));
            description.push('.');
        }
        _ => {
            description.push_str("Our ");
            push_lower(&mut description, adjective);
            description.push(' ');
            push_lower(&mut description, noun);
            description.push_str(" in ");
            push_lower(&mut description, material);
            description.push_str(", ");
            description.push_str(rng.pick(FEATURES));
            description.push('.');
        }
    }
    if rng.chance(50) {
        description.push(' ');
        description.push_str(rng.pick(CLOSERS));
    }

    let long_text = long_text(&mut rng, category, noun, material, adjective);
    ProductUpsertedV1 {
        product_id: id,
        title,
        description,
        long_text,
        category: category.name.to_owned(),
        price_minor: price(&mut rng),
        currency: "EUR".to_owned(),
        image_urls: Vec::new(),
    }
}

/// Three to five different sentences about the product.
fn long_text(
    rng: &mut SplitMix64,
    category: &Category,
    noun: &str,
    material: &str,
    adjective: &str,
) -> String {
    const SENTENCES: u64 = 10;
    let mut text = String::with_capacity(480);
    let count = 3 + rng.below(3);
    // A stride coprime with SENTENCES visits distinct sentences without a shuffle.
    let stride = [1, 3, 7, 9][rng.below(4) as usize];
    let start = rng.below(SENTENCES);
    for i in 0..count {
        if i > 0 {
            text.push(' ');
        }
        match (start + i * stride) % SENTENCES {
            0 => {
                text.push_str("The ");
                push_lower(&mut text, noun);
                text.push_str(" is made of ");
                push_lower(&mut text, material);
                text.push(' ');
                text.push_str(rng.pick(FEATURES));
                text.push('.');
            }
            1 => {
                text.push_str("Every ");
                push_lower(&mut text, noun);
                text.push_str(" is checked by hand before it leaves our workshop.");
            }
            2 => {
                let _ = write!(
                    text,
                    "It measures about {} cm across and weighs {} g.",
                    5 + rng.below(116),
                    50 + 10 * rng.below(400)
                );
            }
            3 => text.push_str("Wipe clean with a damp cloth and avoid harsh detergents."),
            4 => {
                text.push_str("We buy our ");
                push_lower(&mut text, material);
                text.push_str(" from suppliers we have worked with for years.");
            }
            5 => {
                text.push_str("Part of our ");
                text.push_str(category.name);
                text.push_str(" range, it combines everyday function with ");
                text.push_str(article(adjective));
                text.push(' ');
                push_lower(&mut text, adjective);
                text.push_str(" look.");
            }
            6 => text.push_str("Small variations in colour and texture are part of its character."),
            7 => text.push_str("Returns are free within 30 days of delivery."),
            8 => {
                text.push_str("Combine it with other pieces from the range for a consistent look.")
            }
            _ => {
                text.push_str("It ");
                text.push_str(rng.pick(BENEFITS));
                text.push_str(", and it ");
                text.push_str(rng.pick(BENEFITS));
                text.push('.');
            }
        }
    }
    text
}

/// A price in euro cents between 1.99 and 999.00: log-uniform (cheap things are common), mostly
/// ending in .99, .50 or .00.
fn price(rng: &mut SplitMix64) -> i64 {
    const MIN: i64 = 199;
    const MAX: i64 = 99_900;
    let euros = (1.99f64 * (999.0f64 / 1.99).powf(rng.unit())) as i64;
    let cents = match rng.below(100) {
        0..70 => 99,
        70..85 => 50,
        85..95 => 0,
        _ => rng.below(100) as i64,
    };
    (euros * 100 + cents).clamp(MIN, MAX)
}

fn article(word: &str) -> &'static str {
    match word.as_bytes().first() {
        Some(b'A' | b'E' | b'I' | b'O' | b'U' | b'a' | b'e' | b'i' | b'o' | b'u') => "an",
        _ => "a",
    }
}

fn push_lower(buf: &mut String, word: &str) {
    buf.extend(word.chars().flat_map(char::to_lowercase));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::import::{parse_products, parse_stock};
    use crate::catalog::validate::validate_product;
    use shared::proto::{Money, UpsertProduct};

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let a: Vec<_> = products(7, 500).collect();
        let b: Vec<_> = products(7, 500).collect();
        assert_eq!(a, b);
        assert_eq!(
            stock_deliveries(7, 500, 50).collect::<Vec<_>>(),
            stock_deliveries(7, 500, 50).collect::<Vec<_>>()
        );
        // A product does not depend on how many are generated.
        assert_eq!(product(7, 300), a[299]);
    }

    #[test]
    fn different_seeds_give_different_data() {
        let a: Vec<_> = products(1, 100).collect();
        let b: Vec<_> = products(2, 100).collect();
        let same = a.iter().zip(&b).filter(|(x, y)| x == y).count();
        assert_eq!(same, 0);
        assert_ne!(
            (1..=100).map(|id| stock(1, id, 50)).collect::<Vec<_>>(),
            (1..=100).map(|id| stock(2, id, 50)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn every_product_passes_the_apis_validation() {
        let mut categories = std::collections::BTreeSet::new();
        for p in products(3, 20_000) {
            let upsert = UpsertProduct {
                title: p.title.clone(),
                description: p.description.clone(),
                long_text: p.long_text.clone(),
                category: p.category.clone(),
                price: Some(Money {
                    minor: p.price_minor,
                    currency: p.currency.clone(),
                }),
                image_urls: p.image_urls.clone(),
            };
            let checked =
                validate_product(p.product_id, &upsert).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            assert_eq!(checked, p);
            assert!((199..=99_900).contains(&p.price_minor), "{p:?}");
            assert!(p.long_text.len() > p.description.len(), "{p:?}");
            categories.insert(p.category);
        }
        assert!((10..=15).contains(&categories.len()));
    }

    #[test]
    fn prices_mostly_end_in_99_50_or_00() {
        let cents: Vec<i64> = products(4, 10_000).map(|p| p.price_minor % 100).collect();
        let round = cents.iter().filter(|c| [99, 50, 0].contains(c)).count();
        assert!(round > 9_000, "{round}");
    }

    #[test]
    fn about_five_percent_have_no_stock() {
        let levels: Vec<u32> = (1..=100_000).map(|id| stock(5, id, 50)).collect();
        let empty = levels.iter().filter(|&&q| q == 0).count();
        assert!((4_500..5_500).contains(&empty), "{empty}");
        assert!(levels.iter().all(|&q| q <= 50));
        assert!(levels.contains(&1) && levels.contains(&50));
        assert!((1..=100).all(|id| stock(5, id, 0) == 0));
    }

    #[test]
    fn csv_files_import_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let (n, stocked) = write_csv(dir.path(), 9, 2_000, 20).unwrap();
        assert_eq!(n, 2_000);

        let file = File::open(dir.path().join("products.csv")).unwrap();
        let read: Vec<_> = parse_products(file).unwrap();
        assert_eq!(
            read.iter().map(|r| r.event.clone()).collect::<Vec<_>>(),
            products(9, 2_000).collect::<Vec<_>>()
        );
        // No field holds a newline, so row k is on line k + 1.
        assert!(read.iter().all(|r| r.line == r.event.product_id + 1));

        let file = File::open(dir.path().join("stock.csv")).unwrap();
        let read: Vec<_> = parse_stock(file).unwrap();
        assert_eq!(read.len() as u64, stocked);
        assert_eq!(
            read.into_iter().map(|r| r.event).collect::<Vec<_>>(),
            stock_deliveries(9, 2_000, 20).collect::<Vec<_>>()
        );
    }
}

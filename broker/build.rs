//! Names the build in `tansu --version`: `broker/build.sh` passes a digest of this crate's
//! sources and patches, so a broker built before a fix is told apart from one built after it.
fn main() {
    println!("cargo:rerun-if-env-changed=SHOP_BROKER_DIGEST");
    let digest = std::env::var("SHOP_BROKER_DIGEST").unwrap_or_else(|_| "unversioned".into());
    println!("cargo:rustc-env=SHOP_BROKER_DIGEST={digest}");
}

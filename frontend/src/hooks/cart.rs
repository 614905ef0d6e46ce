//! The shopper's cart commands and what follows their answers: "Add to cart" on the product
//! page, a line's quantity and "Place order" on the cart page. Each answer's cart goes to the
//! shared state; a refusal goes to the page's reducer, which explains it.

use shared::proto::CartView;
use yew::platform::spawn_local;
use yew::prelude::*;
use yew_router::prelude::*;

use super::{ShopHandle, refresh_cart};
use crate::api;
use crate::notice::{AddPlan, Notice, plan_add};
use crate::route::Route;
use crate::state::cart_page::{CartCommand, CartPageAction};
use crate::state::product::{AddCommand, ProductAction};
use crate::state::shop::ShopAction;

/// Runs a cart page command: the cart it answers goes to the shared state, a placed order
/// opens its confirmation, and a refusal (or an unknown line) re-reads the cart to show beside
/// the explanation. `cart` is the cart on screen, for naming lines in it.
#[hook]
pub fn use_cart_commands(
    dispatch: Callback<CartPageAction>,
    cart: Option<CartView>,
) -> Callback<CartCommand> {
    let shop = use_context::<ShopHandle>().expect("ShopHandle is provided by App");
    let navigator = use_navigator().expect("inside the router");
    let shop_d = shop.dispatcher();
    Callback::from(move |cmd: CartCommand| {
        dispatch.emit(CartPageAction::Sent(cmd.clone()));
        let (dispatch, shop_d, navigator, cart) = (
            dispatch.clone(),
            shop_d.clone(),
            navigator.clone(),
            cart.clone(),
        );
        spawn_local(async move {
            let failed = match &cmd {
                CartCommand::SetLine {
                    product_id,
                    quantity,
                    key,
                } => match api::set_cart_line(*product_id, *quantity, key).await {
                    Ok(c) => {
                        shop_d.dispatch(ShopAction::Cart(c));
                        dispatch.emit(CartPageAction::LineSet(*product_id));
                        None
                    }
                    Err(e) => Some(e),
                },
                CartCommand::PlaceOrder {
                    cart_version,
                    lines,
                    key,
                } => match api::place_order(*cart_version, lines.clone(), key).await {
                    Ok(order) => {
                        let id = order.id;
                        dispatch.emit(CartPageAction::Placed);
                        refresh_cart(shop_d.clone());
                        navigator.push(&Route::Order { id });
                        None
                    }
                    Err(e) => Some(e),
                },
            };
            if let Some(error) = failed {
                if error.rejection().is_some() || error.status() == Some(404) {
                    // Show the cart as it is now, next to the explanation.
                    refresh_cart(shop_d);
                }
                dispatch.emit(CartPageAction::Failed {
                    command: cmd,
                    error,
                    cart,
                });
            }
        });
    })
}

/// What the product page's "Add to cart" needs at the press: the quantity picked and the stock
/// available, when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddRequest {
    pub picked: u32,
    pub available: Option<u64>,
}

/// The product page's commands.
pub struct AddToCart {
    /// Adds on top of what the cart holds (read first when not known yet), or says why not.
    pub add: Callback<AddRequest>,
    /// Sends exactly this command; a retry sends the same one again (same key, same quantity).
    pub send: Callback<AddCommand>,
}

#[hook]
pub fn use_add_to_cart(id: u64, dispatch: Callback<ProductAction>) -> AddToCart {
    let shop = use_context::<ShopHandle>().expect("ShopHandle is provided by App");
    let send = {
        let dispatch = dispatch.clone();
        let shop = shop.dispatcher();
        Callback::from(move |cmd: AddCommand| {
            dispatch.emit(ProductAction::Adding(cmd.clone()));
            let (dispatch, shop) = (dispatch.clone(), shop.clone());
            spawn_local(async move {
                match api::set_cart_line(cmd.product_id, cmd.set_to, &cmd.key).await {
                    Ok(cart) => {
                        shop.dispatch(ShopAction::Cart(cart));
                        dispatch.emit(ProductAction::Added);
                    }
                    Err(e) => dispatch.emit(ProductAction::AddFailed(cmd, e)),
                }
            });
        })
    };
    let add = {
        let send = send.clone();
        Callback::from(move |AddRequest { picked, available }| {
            let (dispatch, send, cart_known, in_cart) = (
                dispatch.clone(),
                send.clone(),
                shop.cart.is_some(),
                shop.quantity_in_cart(id),
            );
            spawn_local(async move {
                // "Add" means on top of what the cart holds, so the cart must be known first.
                let in_cart = if cart_known {
                    in_cart
                } else {
                    match api::cart().await {
                        Ok(c) => c
                            .lines
                            .iter()
                            .find(|l| l.product_id == id)
                            .map_or(0, |l| l.quantity),
                        Err(e) => {
                            dispatch
                                .emit(ProductAction::Notice(Some(Notice::problem(e.message()))));
                            return;
                        }
                    }
                };
                match plan_add(in_cart, picked, available) {
                    AddPlan::SetTo(set_to) => send.emit(AddCommand {
                        product_id: id,
                        set_to,
                        key: api::new_idempotency_key(),
                    }),
                    AddPlan::Refuse(why) => {
                        dispatch.emit(ProductAction::Notice(Some(Notice::problem(why))))
                    }
                }
            });
        })
    };
    AddToCart { add, send }
}

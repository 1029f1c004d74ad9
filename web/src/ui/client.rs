//! The client: put and get through any node, with the context a get returns (§4.4, §4.5).
//! Siblings are shown with a reconcile action; the shopping-cart mode merges carts as the
//! paper's example does; a background workload keeps the cluster busy.

use dynamoscope::protocol::message::{ClientResponse, ClientResult};
use dynamoscope::protocol::store::Version;
use dynamoscope::protocol::vclock::VectorClock;
use dynamoscope::protocol::ClientOperation;
use dynamoscope::sim::checker::clock_text;
use dynamoscope::sim::timeline::misses_acknowledged;
use dynamoscope::sim::workload::merge_carts;
use yew::prelude::*;

/// A request the panel asks the page to send, and where the reply goes.
#[derive(Clone, PartialEq)]
pub struct ClientCall {
    pub via: u32,
    pub operation: ClientOperation,
    pub on_reply: Callback<ClientResult>,
}

#[derive(Properties, PartialEq)]
pub struct ClientProps {
    pub key_name: String,
    pub nodes: Vec<u32>,
    pub workload_on: bool,
    pub on_key: Callback<String>,
    pub on_call: Callback<ClientCall>,
    pub on_workload: Callback<bool>,
    /// The key's latest acknowledged put as the page has folded the trace (when, and its
    /// clock), and the time now: a get asked now that misses it is a stale read.
    #[prop_or_default]
    pub acknowledged: Option<(u64, VectorClock)>,
    #[prop_or_default]
    pub now_ms: u64,
}

/// The last reply, as the panel shows it.
#[derive(Clone, Debug, Default, PartialEq)]
struct LastReply {
    text: String,
    failed: bool,
    /// A get's versions (siblings).
    siblings: Vec<Version>,
    context: Option<VectorClock>,
    /// A get that missed a put acknowledged before it was asked, at that put's time (§4.6).
    stale_after_ms: Option<u64>,
}

#[function_component(ClientPanel)]
pub fn client_panel(props: &ClientProps) -> Html {
    let value = use_state(|| "book".to_string());
    let via = use_state(|| props.nodes.first().copied().unwrap_or(1));
    let cart_mode = use_state(|| false);
    let reply = use_state(LastReply::default);
    let send = |operation: ClientOperation| -> Callback<MouseEvent> {
        let (on_call, reply, via) = (props.on_call.clone(), reply.clone(), *via);
        // What was acknowledged when the request is asked, to judge a get's answer by.
        let asked = (props.acknowledged.clone(), props.now_ms);
        Callback::from(move |_| {
            let (reply, asked) = (reply.clone(), asked.clone());
            let on_reply = Callback::from(move |result: ClientResult| reply.set(describe(result, &asked)));
            on_call.emit(ClientCall { via, operation: operation.clone(), on_reply })
        })
    };
    let key = props.key_name.clone();
    let put_value = if *cart_mode { merged_cart(&reply.siblings, &value) } else { (*value).clone() };
    let put = ClientOperation::Put {
        key: key.clone(),
        value: put_value.clone().into_bytes(),
        context: reply.context.clone(),
    };
    let get = ClientOperation::Get { key: key.clone() };
    // Slide 15's deleted item: removed from the merged cart, it may come back in a later merge.
    let removed_value = cart_without(&reply.siblings, &value);
    let remove = ClientOperation::Put {
        key: key.clone(),
        value: removed_value.clone().into_bytes(),
        context: reply.context.clone(),
    };
    html! {
        <div class="client" data-testid="client">
            <label>{ "Key " }<input data-testid="key" value={key.clone()} oninput={text_input(&props.on_key)} /></label>
            <label>{ if *cart_mode { "Item " } else { "Value " } }
                <input data-testid="value" value={(*value).clone()} oninput={state_input(&value)} /></label>
            <label>{ "Through " }{ node_select(&props.nodes, &via) }</label>
            <label class="check"><input type="checkbox" data-testid="cart-mode" checked={*cart_mode}
                onchange={toggle(&cart_mode)} />{ " shopping-cart mode: a put adds the item to the union of every sibling's items, or removes it" }</label>
            <div class="buttons">
                <button data-testid="get" onclick={send(get)}>{ "Get" }</button>
                <button data-testid="put" onclick={send(put)} title="Puts with the context of the last get, if any">
                    { if *cart_mode { format!("Add to cart → {put_value}") } else { "Put".to_string() } }</button>
                if *cart_mode {
                    <button data-testid="remove-item" onclick={send(remove)} title="Puts the cart without this item, with the context of the last get">
                        { format!("Remove from cart → {}", if removed_value.is_empty() { "(empty)" } else { removed_value.as_str() }) }</button>
                }
            </div>
            <p class="muted" data-testid="context">{ match &reply.context {
                Some(context) => format!("Context for the next put: {}", clock_text(context)),
                None => "No context: the next put is a blind write (it may create siblings).".into(),
            } }</p>
            { reply_view(&reply, &props.key_name, &send) }
            <label class="check"><input type="checkbox" data-testid="workload" checked={props.workload_on}
                onchange={props.on_workload.reform(|event: Event| event.target_unchecked_into::<web_sys::HtmlInputElement>().checked())} />
                { " background workload: 8 cart clients (the simulator's), two on each of cart:0 to cart:3, read and add an item through random nodes; their requests are logged like clicks" }</label>
        </div>
    }
}

fn reply_view(reply: &LastReply, key: &str, send: &dyn Fn(ClientOperation) -> Callback<MouseEvent>) -> Html {
    if reply.text.is_empty() {
        return html! {};
    }
    let reconcile = (reply.siblings.len() > 1).then(|| {
        let merged = merged_cart(&reply.siblings, "");
        let operation =
            ClientOperation::Put { key: key.to_string(), value: merged.clone().into_bytes(), context: reply.context.clone() };
        html! { <button data-testid="reconcile" onclick={send(operation)}
            title="Put the union of the siblings with the context that covers them all">{ format!("Reconcile → {merged}") }</button> }
    });
    html! {
        <div class={classes!("reply", reply.failed.then_some("failed"))} data-testid="reply">
            <p>{ &reply.text }</p>
            if let Some(at_ms) = reply.stale_after_ms {
                <p class="stale-read" data-testid="stale-read">{ format!(
                    "Stale read: none of these versions descends the put acknowledged at {at_ms} ms, before this get was asked. A sloppy quorum allows it (§4.6)."
                ) }</p>
            }
            if !reply.siblings.is_empty() {
                <ul class="siblings" data-testid="siblings" data-count={reply.siblings.len().to_string()}>
                    { for reply.siblings.iter().map(|version| html! {
                        <li><b>{ String::from_utf8_lossy(&version.value).into_owned() }</b>{ " " }<code>{ clock_text(&version.clock) }</code></li>
                    }) }
                </ul>
            }
            { reconcile.unwrap_or_default() }
        </div>
    }
}

fn describe(result: ClientResult, asked: &(Option<(u64, VectorClock)>, u64)) -> LastReply {
    match result {
        Ok(ClientResponse::Put { context, coordinator }) => LastReply {
            text: format!(
                "Put acknowledged by coordinator n{}: version {}",
                coordinator.0,
                clock_text(&context)
            ),
            ..LastReply::default()
        },
        Ok(ClientResponse::Got { versions, context, coordinator }) => LastReply {
            stale_after_ms: misses_acknowledged(asked.0.as_ref(), asked.1, &versions)
                .then(|| asked.0.as_ref().map_or(0, |(at_ms, _)| *at_ms)),
            text: match versions.len() {
                0 => format!("Not found (coordinator n{})", coordinator.0),
                1 => format!("One version (coordinator n{})", coordinator.0),
                count => format!(
                    "{count} siblings: concurrent versions to reconcile (coordinator n{})",
                    coordinator.0
                ),
            },
            siblings: versions,
            context: Some(context),
            failed: false,
        },
        Err(error) => LastReply { text: format!("Failed: {error}"), failed: true, ..LastReply::default() },
    }
}

/// The merged cart without `item` (the union of every sibling's items, as [`merged_cart`]).
fn cart_without(siblings: &[Version], item: &str) -> String {
    let item = item.trim();
    let kept: Vec<String> = merge_carts(siblings).into_iter().filter(|listed| listed != item).collect();
    kept.join(",")
}

/// The shopping cart's merge (§4.4, the simulator's own): every sibling's items, plus `item`.
fn merged_cart(siblings: &[Version], item: &str) -> String {
    let mut cart = merge_carts(siblings);
    cart.extend(item.split(',').filter(|item| !item.trim().is_empty()).map(str::to_string));
    cart.into_iter().collect::<Vec<_>>().join(",")
}

fn text_input(on_text: &Callback<String>) -> Callback<InputEvent> {
    on_text.reform(|event: InputEvent| event.target_unchecked_into::<web_sys::HtmlInputElement>().value())
}

fn state_input(state: &UseStateHandle<String>) -> Callback<InputEvent> {
    let state = state.clone();
    Callback::from(move |event: InputEvent| {
        state.set(event.target_unchecked_into::<web_sys::HtmlInputElement>().value())
    })
}

fn toggle(state: &UseStateHandle<bool>) -> Callback<Event> {
    let state = state.clone();
    Callback::from(move |_| state.set(!*state))
}

fn node_select(nodes: &[u32], via: &UseStateHandle<u32>) -> Html {
    let (via, options) = (via.clone(), nodes.to_vec());
    let chosen = *via;
    let onchange = Callback::from(move |event: Event| {
        let select: web_sys::HtmlSelectElement = event.target_unchecked_into();
        if let Some(node) = options.get(select.selected_index().max(0) as usize) {
            via.set(*node);
        }
    });
    html! {
        <select data-testid="via" {onchange}>
            { for nodes.iter().map(|node| html! { <option selected={*node == chosen}>{ format!("n{node}") }</option> }) }
        </select>
    }
}

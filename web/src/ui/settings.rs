//! Settings, each explained where it is set, with an invalid value explained next to it and
//! nothing applied until every value is valid.

use dynamoscope::protocol::ring::PartitionStrategy;
use dynamoscope::protocol::vclock::ClockKind;
use dynamoscope::protocol::{ClusterConfig, NodeId};
use dynamoscope::sim::network::{Latency, NetworkConfig};
use yew::prelude::*;

use dynamoscope::sim::scenario::Action;

#[derive(Properties, PartialEq)]
pub struct SettingsProps {
    pub config: ClusterConfig,
    pub network: NetworkConfig,
    /// Nodes that are members now (up or down): N beyond it cannot be met.
    pub members: usize,
    pub on_action: Callback<Action>,
    /// A fresh cluster: (settings, seed).
    pub on_reset: Callback<(ClusterConfig, u64)>,
}

/// The form's text, as typed.
#[derive(Clone, Debug, PartialEq)]
struct Draft {
    n: String,
    r: String,
    w: String,
    replica_timeout_ms: String,
    request_timeout_ms: String,
    latency_min_ms: String,
    latency_max_ms: String,
    loss_percent: String,
    /// Dotted version vectors instead of the paper's clocks.
    dotted: bool,
    nodes: String,
    strategy_three: bool,
    tokens: String,
    seed: String,
}

impl Draft {
    fn of(config: &ClusterConfig, network: &NetworkConfig) -> Draft {
        let (latency_min_ms, latency_max_ms) = match network.latency {
            Latency::Uniform { min_ms, max_ms } => (min_ms, max_ms),
            Latency::Fixed { ms } => (ms, ms),
            Latency::LogNormal { median_ms, max_ms, .. } => (median_ms, max_ms),
        };
        let (strategy_three, tokens) = match config.strategy {
            PartitionStrategy::EqualPartitions { partitions } => (true, partitions),
            PartitionStrategy::RandomTokens { tokens_per_node } => (false, tokens_per_node),
        };
        Draft {
            n: config.replicas_n.to_string(),
            r: config.reads_r.to_string(),
            w: config.writes_w.to_string(),
            replica_timeout_ms: config.replica_timeout_ms.to_string(),
            request_timeout_ms: config.request_timeout_ms.to_string(),
            latency_min_ms: latency_min_ms.to_string(),
            latency_max_ms: latency_max_ms.to_string(),
            loss_percent: format!("{}", f64::from(network.loss_ppm) / 10_000.0),
            dotted: config.clocks == ClockKind::DottedVersionVectors,
            nodes: config.initial_members.len().to_string(),
            strategy_three,
            tokens: tokens.to_string(),
            seed: "2007".into(),
        }
    }

    /// The live fields as the cluster has them now; the fresh cluster's fields as typed.
    fn synced(&self, config: &ClusterConfig, network: &NetworkConfig) -> Draft {
        let live = Draft::of(config, network);
        Draft {
            nodes: self.nodes.clone(),
            strategy_three: self.strategy_three,
            tokens: self.tokens.clone(),
            seed: self.seed.clone(),
            ..live
        }
    }
}

fn number<T: std::str::FromStr>(text: &str, field: &str) -> Result<T, String> {
    text.trim().parse().map_err(|_| format!("{field}: a whole number, not \"{text}\""))
}

/// The live settings the draft asks for, or the first reason it cannot.
fn live_settings(
    draft: &Draft,
    base: &ClusterConfig,
    network: &NetworkConfig,
) -> Result<(ClusterConfig, NetworkConfig), String> {
    let config = ClusterConfig {
        replicas_n: number(&draft.n, "N")?,
        reads_r: number(&draft.r, "R")?,
        writes_w: number(&draft.w, "W")?,
        replica_timeout_ms: number(&draft.replica_timeout_ms, "replica timeout")?,
        request_timeout_ms: number(&draft.request_timeout_ms, "request timeout")?,
        clocks: if draft.dotted { ClockKind::DottedVersionVectors } else { ClockKind::Paper },
        ..base.clone()
    };
    config.validate().map_err(|error| error.to_string())?;
    let loss: f64 =
        draft.loss_percent.trim().parse().map_err(|_| "loss: a percentage from 0 to 100".to_string())?;
    if !(0.0..=100.0).contains(&loss) {
        return Err(format!("loss: a percentage from 0 to 100, not {loss}"));
    }
    let latency = Latency::Uniform {
        min_ms: number(&draft.latency_min_ms, "latency min")?,
        max_ms: number(&draft.latency_max_ms, "latency max")?,
    };
    let network = NetworkConfig { latency, loss_ppm: (loss * 10_000.0).round() as u32, ..network.clone() };
    network.validate()?;
    Ok((config, network))
}

/// A fresh cluster of everything the form says, its live settings included, so the form and
/// the new cluster never disagree.
fn fresh_settings(draft: &Draft, base: &ClusterConfig) -> Result<(ClusterConfig, u64), String> {
    let nodes: u32 = number(&draft.nodes, "nodes")?;
    if !(1..=crate::runtime::WORKERS_MAX).contains(&nodes) {
        return Err(format!("nodes: 1 to {}, not {nodes}", crate::runtime::WORKERS_MAX));
    }
    let tokens: u32 = number(&draft.tokens, "tokens")?;
    let strategy = if draft.strategy_three {
        PartitionStrategy::EqualPartitions { partitions: tokens }
    } else {
        PartitionStrategy::RandomTokens { tokens_per_node: tokens }
    };
    let config =
        ClusterConfig { initial_members: (1..=nodes).map(NodeId).collect(), strategy, ..base.clone() };
    config.validate().map_err(|error| error.to_string())?;
    Ok((config, number(&draft.seed, "seed")?))
}

/// The form field an error is about, from the setting it names.
fn field_of(error: &str) -> Option<&'static str> {
    let named = [
        ("N:", "N"),
        ("replicas_n", "N"),
        ("R:", "R"),
        ("reads_r", "R"),
        ("W:", "W"),
        ("writes_w", "W"),
        ("replica timeout", "Replica timeout"),
        ("replica_timeout_ms", "Replica timeout"),
        ("request timeout", "Request timeout"),
        ("request_timeout_ms", "Request timeout"),
        ("latency max", "Latency max"),
        ("latency", "Latency min"),
        ("loss", "Loss"),
        ("nodes", "Nodes"),
        ("initial_members", "Nodes"),
        ("tokens", "Tokens"),
        ("strategy", "Tokens"),
        ("seed", "Seed"),
    ];
    named.iter().find(|(prefix, _)| error.starts_with(prefix)).map(|(_, field)| *field)
}

#[function_component(Settings)]
pub fn settings(props: &SettingsProps) -> Html {
    let draft = use_state(|| Draft::of(&props.config, &props.network));
    {
        // The form shows the cluster's settings: whenever they change (applied here, by the
        // console, by a scenario or a fresh cluster), the live fields follow.
        let draft = draft.clone();
        use_effect_with((props.config.clone(), props.network.clone()), move |(config, network)| {
            draft.set(draft.synced(config, network));
        });
    }
    let live = live_settings(&draft, &props.config, &props.network);
    let fresh = live.clone().and_then(|(config, _)| fresh_settings(&draft, &config));
    let pending = *draft != draft.synced(&props.config, &props.network);
    let cautions = live.as_ref().map(|(config, _)| cautions(config, props.members)).unwrap_or_default();
    let errors: Vec<String> =
        [live.as_ref().err(), fresh.as_ref().err()].into_iter().flatten().cloned().collect();
    let field = |name: &'static str,
                 get: fn(&Draft) -> &String,
                 set: fn(&mut Draft, String),
                 help: &'static str| {
        let draft_handle = draft.clone();
        let oninput = Callback::from(move |event: InputEvent| {
            let mut next = (*draft_handle).clone();
            set(&mut next, event.target_unchecked_into::<web_sys::HtmlInputElement>().value());
            draft_handle.set(next);
        });
        html! {
            <label class="field"><span>{ name }</span>
                <input data-testid={format!("setting-{}", name.to_lowercase().replace(' ', "-"))} value={get(&draft).clone()} {oninput}
                    aria-invalid={errors.iter().any(|error| field_of(error) == Some(name)).to_string()} />
                <small>{ help }</small>
                { for errors.iter().filter(|error| field_of(error) == Some(name)).map(|error| html! {
                    <small class="invalid" role="alert" data-testid="setting-error">{ error }</small>
                }) }
                </label>
        }
    };
    let apply = {
        let (on_action, live, current) = (props.on_action.clone(), live.clone(), props.config.clone());
        Callback::from(move |_: MouseEvent| {
            if let Ok((config, network)) = live.clone() {
                on_action.emit(crate::runtime::configure(&current, &config));
                on_action.emit(Action::Network(network));
            }
        })
    };
    let reset = {
        let (on_reset, fresh) = (props.on_reset.clone(), fresh.clone());
        Callback::from(move |_: MouseEvent| {
            if let Ok(settings) = fresh.clone() {
                on_reset.emit(settings);
            }
        })
    };
    // A tick box flips one flag of the draft.
    let toggle = |flip: fn(&mut Draft)| {
        let draft = draft.clone();
        Callback::from(move |_: Event| {
            let mut next = (*draft).clone();
            flip(&mut next);
            draft.set(next);
        })
    };
    let clocks_toggle = toggle(|draft| draft.dotted = !draft.dotted);
    let strategy_toggle = toggle(|draft| draft.strategy_three = !draft.strategy_three);
    html! {
        <div class="settings" data-testid="settings">
            <h3>{ "Live: applied to every node now" }</h3>
            { field("N", |draft| &draft.n, |draft, text| draft.n = text, "replicas of each key: the first N distinct nodes clockwise (§4.3)") }
            { field("R", |draft| &draft.r, |draft, text| draft.r = text, "replicas a get waits for (§4.5); R + W > N gives quorum-like overlap") }
            { field("W", |draft| &draft.w, |draft, text| draft.w = text, "replicas a put waits for, the coordinator included (§4.5)") }
            { for cautions.iter().map(|caution| html! { <p class="caution" data-testid="setting-caution">{ format!("⚠ {caution}") }</p> }) }
            { field("Replica timeout", |draft| &draft.replica_timeout_ms, |draft, text| draft.replica_timeout_ms = text, "ms a coordinator waits for a replica before it counts it as failed and tries the next node (§4.6); with latency near it, writes go to stand-ins and hints pile up with no node down") }
            { field("Request timeout", |draft| &draft.request_timeout_ms, |draft, text| draft.request_timeout_ms = text, "ms a client request may take before it fails; at least the replica timeout") }
            { field("Latency min", |draft| &draft.latency_min_ms, |draft, text| draft.latency_min_ms = text, "ms, each message's delay is uniform between min and max") }
            { field("Latency max", |draft| &draft.latency_max_ms, |draft, text| draft.latency_max_ms = text, "ms") }
            { field("Loss", |draft| &draft.loss_percent, |draft, text| draft.loss_percent = text, "% of messages the network loses") }
            <label class="check"><input type="checkbox" data-testid="setting-dotted" checked={draft.dotted} onchange={clocks_toggle} />
                { " dotted version vectors: each put gets its own dot, so concurrent puts stay siblings; unticked, the paper's clocks (§4.4), which can lose one of two (the metrics count each loss)" }</label>
            { verdict(&live.as_ref().map(drop)) }
            <button data-testid="apply-settings" disabled={live.is_err() || !pending} onclick={apply}>{ "Apply" }</button>
            if pending {
                <span class="muted" data-testid="settings-pending">{ " not applied yet: the cluster still runs its current settings" }</span>
            }
            <h3>{ "A fresh cluster: restarts from time zero" }</h3>
            { field("Nodes", |draft| &draft.nodes, |draft, text| draft.nodes = text, "how many nodes form the ring at the start") }
            <label class="check"><input type="checkbox" checked={draft.strategy_three} onchange={strategy_toggle} />
                { " strategy 3: Q equal partitions (§6.2); unticked, strategy 1: T random tokens per node" }</label>
            { field("Tokens", |draft| &draft.tokens, |draft, text| draft.tokens = text, "Q partitions (strategy 3) or T tokens per node (strategy 1)") }
            { field("Seed", |draft| &draft.seed, |draft, text| draft.seed = text, "the same seed and actions give the same run") }
            { verdict(&fresh.as_ref().map(drop)) }
            <button data-testid="reset-cluster" disabled={fresh.is_err()} onclick={reset}>{ "Start a fresh cluster" }</button>
        </div>
    }
}

/// Settings that are valid but surprise: said next to them, applied all the same.
fn cautions(config: &ClusterConfig, members: usize) -> Vec<String> {
    let mut cautions = Vec::new();
    if config.replicas_n > members {
        cautions.push(format!(
            "N = {} but the ring has {members} members: each key has at most {members} replicas until more join",
            config.replicas_n
        ));
    }
    if config.reads_r + config.writes_w <= config.replicas_n {
        cautions.push(format!(
            "R + W = {} is not more than N = {}: a get may miss the latest acknowledged put (the quorums need not overlap, §4.5)",
            config.reads_r + config.writes_w,
            config.replicas_n
        ));
    }
    cautions
}

/// An error no single field owns (the fields show theirs).
fn verdict(result: &Result<(), &String>) -> Html {
    match result {
        Err(reason) if field_of(reason).is_none() => {
            html! { <p class="invalid" data-testid="setting-error" role="alert">{ reason.to_string() }</p> }
        }
        _ => html! {},
    }
}

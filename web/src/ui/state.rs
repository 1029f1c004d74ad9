//! What the page shows, changed only by [`Action`]s in a pure reducer. The cluster's own state
//! arrives as a [`Frame`] gathered by the frame hook; everything else here is the page's.

use std::collections::BTreeMap;
use std::rc::Rc;

use dynamoscope::protocol::node::NodeInspection;
use dynamoscope::protocol::{ClusterConfig, NodeId};
use dynamoscope::sim::network::NetworkConfig;
use dynamoscope::sim::timeline::PastState;
use dynamoscope::sim::views::gossip::Spread;
use dynamoscope::sim::views::history::KeyHistory;
use dynamoscope::sim::views::invariants::LivePromises;
use dynamoscope::sim::views::merkle::Exchange;
use dynamoscope::sim::views::versions::VersionGraph;
use yew::Reducible;

use dynamoscope::sim::lesson::Show;

use crate::runtime::lesson::LessonState;
use crate::runtime::{NodeSnapshot, SlotStatus};

/// Notices shown at once; older ones give way.
const NOTICES_MAX: usize = 4;
/// How a worker-failure notice says it, so the next one can replace it.
const DOWN_FOR_GOOD: &str = "down for good";

/// The cluster as one animation frame sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    pub now_ms: u64,
    pub nodes: Vec<NodeSnapshot>,
    /// The trace folded to its end (refreshed a few times a second while running).
    pub past: Rc<PastState>,
    /// What is on the wire now (every frame).
    pub wire: Rc<crate::ui::ring::Wire>,
    pub inspections: BTreeMap<NodeId, Rc<NodeInspection>>,
    pub verdicts: Rc<LivePromises>,
    pub config: ClusterConfig,
    pub network: NetworkConfig,
    pub paused: bool,
    /// Virtual milliseconds per wall second; None is as fast as possible.
    pub speed: Option<u64>,
    pub trace_hash: u64,
    pub events: u64,
    /// The open tab's drawing data, derived from the trace (refreshed a few times a second).
    pub history: Option<Rc<KeyHistory>>,
    /// The key's versions as Figure 3 draws them, derived with `history`.
    pub versions: Option<Rc<VersionGraph>>,
    pub spreads: Rc<Vec<Spread>>,
    pub exchanges: Rc<Vec<Exchange>>,
    pub workload_on: bool,
    /// The newest steps of the run in words, each with its time (`sim::views::narration`).
    pub narration: Rc<Vec<(u64, String)>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Inspector,
    Client,
    Metrics,
    Gossip,
    History,
    Merkle,
    Settings,
}

impl Tab {
    pub const ALL: [Tab; 7] =
        [Tab::Client, Tab::Inspector, Tab::Metrics, Tab::Gossip, Tab::History, Tab::Merkle, Tab::Settings];

    /// The tab a lesson names (`sim::lesson::TABS`).
    pub fn named(name: &str) -> Option<Tab> {
        Tab::ALL.into_iter().find(|tab| tab.name() == name)
    }

    /// The tab's name in lessons and in the page's address (`?tab=versions`).
    pub fn name(self) -> &'static str {
        match self {
            Tab::History => "versions",
            Tab::Inspector => "inspector",
            Tab::Client => "client",
            Tab::Metrics => "metrics",
            Tab::Gossip => "gossip",
            Tab::Merkle => "merkle",
            Tab::Settings => "settings",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Tab::Inspector => "Inspector",
            Tab::Client => "Client",
            Tab::Metrics => "Metrics",
            Tab::Gossip => "Gossip",
            Tab::History => "Versions",
            Tab::Merkle => "Merkle",
            Tab::Settings => "Settings",
        }
    }
}

/// What a click on a node does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// Select it for the inspector.
    Select,
    /// Put it in the next group of the partition being drawn.
    Partition,
    /// The first click picks where a one-way cut starts, the second where it ends.
    Cut { from: Option<u32> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PageState {
    pub frame: Rc<Frame>,
    pub selected_node: Option<u32>,
    pub key: String,
    pub tab: Tab,
    pub dark: bool,
    pub presenter: bool,
    /// Okabe–Ito node colours and Paul Tol's message colours, safe for every common colour
    /// vision deficiency (issue 13, need 6).
    pub safe_colours: bool,
    /// `?embed`: a minimal frame for an iframe (the ring, time, one tab; docs/EMBED.md).
    pub embed: bool,
    pub help: bool,
    /// Showing the past: the state at the end of this instant, instead of the live cluster.
    pub rewound: Option<(u64, Rc<PastState>)>,
    pub tool: Tool,
    /// Node → its group (1 or 2) in the partition being drawn.
    pub partition_draft: BTreeMap<u32, u8>,
    pub notices: Vec<Notice>,
    /// The lesson open, if any, as its player last said.
    pub lesson: Option<Rc<LessonState>>,
    /// The lesson menu is open (on a first visit, or from the top bar).
    pub lesson_menu: bool,
}

impl Default for PageState {
    fn default() -> Self {
        PageState {
            frame: Rc::default(),
            selected_node: None,
            key: "cart:alice".into(),
            tab: Tab::Client,
            dark: false,
            presenter: false,
            safe_colours: false,
            embed: false,
            help: false,
            rewound: None,
            tool: Tool::Select,
            partition_draft: BTreeMap::new(),
            notices: Vec::new(),
            lesson: None,
            lesson_menu: false,
        }
    }
}

pub enum Action {
    Frame(Rc<Frame>),
    SelectNode(Option<u32>),
    SelectKey(String),
    SelectTab(Tab),
    ToggleDark,
    TogglePresenter,
    ToggleSafeColours,
    /// The page is embedded (`?embed`): for the whole visit.
    Embed,
    ToggleHelp,
    /// Show the past at this instant (folded by the caller), or None for the live cluster.
    Rewind(Option<(u64, Rc<PastState>)>),
    SetTool(Tool),
    /// A node clicked while drawing a partition: it moves to the next group (none, 1, 2).
    CycleGroup(u32),
    Notice(Notice),
    DismissNotice(usize),
    /// The lesson player changed (None: no lesson is open).
    Lesson(Option<Rc<LessonState>>),
    LessonMenu(bool),
    /// A lesson's step puts this in view.
    Show(Show),
}

impl PageState {
    fn push_notice(&mut self, notice: Notice) {
        if self.notices.len() == NOTICES_MAX {
            self.notices.remove(0);
        }
        self.notices.push(notice);
    }
}

/// Workers that failed since the last frame, said once in words: a node that stops for good
/// must not look merely slow.
fn failed_workers(before: &Frame, after: &Frame) -> Option<Notice> {
    let failed = |frame: &Frame, id: u32| {
        frame.nodes.iter().find(|node| node.id == id).and_then(|node| match &node.status {
            SlotStatus::Failed(reason) => Some(reason.clone()),
            _ => None,
        })
    };
    let (_, reason) = after
        .nodes
        .iter()
        .filter(|node| failed(before, node.id).is_none())
        .find_map(|node| Some((node.id, failed(after, node.id)?)))?;
    let names: Vec<String> = after
        .nodes
        .iter()
        .filter(|node| failed(after, node.id).is_some())
        .map(|node| format!("n{}", node.id))
        .collect();
    let text = match names.as_slice() {
        [one] => format!("{one}'s worker failed, so {one} is {DOWN_FOR_GOOD}: {reason}"),
        many => {
            format!("The workers of {} failed, so those nodes are {DOWN_FOR_GOOD}: {reason}", many.join(", "))
        }
    };
    Some(Notice { text, error: true })
}

impl Reducible for PageState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            Action::Frame(frame) => {
                if let Some(notice) = failed_workers(&next.frame, &frame) {
                    // Workers failing a frame apart (as all do when storage is refused) make one
                    // notice that names them all, not one each.
                    if next.notices.last().is_some_and(|last| last.text.contains(DOWN_FOR_GOOD)) {
                        next.notices.pop();
                    }
                    next.push_notice(notice);
                }
                next.frame = frame;
            }
            Action::SelectNode(node) => next.selected_node = node,
            Action::SelectKey(key) => next.key = key,
            Action::SelectTab(tab) => next.tab = tab,
            Action::ToggleDark => next.dark = !next.dark,
            Action::TogglePresenter => next.presenter = !next.presenter,
            Action::ToggleSafeColours => next.safe_colours = !next.safe_colours,
            Action::Embed => next.embed = true,
            Action::ToggleHelp => next.help = !next.help,
            Action::Rewind(rewound) => next.rewound = rewound,
            Action::SetTool(tool) => {
                next.tool = tool;
                next.partition_draft.clear();
            }
            Action::CycleGroup(node) => cycle_group(&mut next.partition_draft, node),
            Action::Notice(notice) => next.push_notice(notice),
            Action::DismissNotice(index) => {
                if index < next.notices.len() {
                    next.notices.remove(index);
                }
            }
            Action::Lesson(lesson) => next.lesson = lesson,
            Action::LessonMenu(open) => next.lesson_menu = open,
            Action::Show(show) => {
                if let Some(tab) = show.tab.as_deref().and_then(Tab::named) {
                    next.tab = tab;
                }
                if let Some(key) = show.key {
                    next.key = key;
                }
                if let Some(node) = show.node {
                    next.selected_node = Some(node.0);
                }
                next.rewound = None;
            }
        }
        Rc::new(next)
    }
}

fn cycle_group(draft: &mut BTreeMap<u32, u8>, node: u32) {
    match draft.get(&node).copied() {
        None => {
            draft.insert(node, 1);
        }
        Some(1) => {
            draft.insert(node, 2);
        }
        Some(_) => {
            draft.remove(&node);
        }
    }
}

impl PageState {
    /// The state shown: the rewound past, or the live cluster's.
    pub fn shown_past(&self) -> Rc<PastState> {
        match &self.rewound {
            Some((_, past)) => past.clone(),
            None => self.frame.past.clone(),
        }
    }

    /// The virtual time shown.
    pub fn shown_ms(&self) -> u64 {
        self.rewound.as_ref().map_or(self.frame.now_ms, |(at_ms, _)| *at_ms)
    }

    /// The partition being drawn, as groups for the simulator's `Action::Partition`.
    pub fn draft_groups(&self) -> Vec<Vec<u32>> {
        [1, 2]
            .into_iter()
            .map(|group| {
                self.partition_draft
                    .iter()
                    .filter(|(_, chosen)| **chosen == group)
                    .map(|(node, _)| *node)
                    .collect()
            })
            .filter(|group: &Vec<u32>| !group.is_empty())
            .collect()
    }
}

//! The network limits of every EC2 instance type, embedded at build time
//! (`core/data/instance-network-limits.csv`, EC2's `DescribeInstanceTypes`
//! figures as the VPC CNI publishes them; its README says how to refresh it).
//!
//! Why embedded: the limits of an instance type never change, and every node
//! asking EC2 for them at start-up spends the account's EC2 request budget at
//! fleet scale for the same answer. The VPC CNI, the EKS AMI's `nodeadm` and
//! Karpenter embed the same table.
//!
//! Policy:
//! - The table is parsed once, on first use ([`embedded`]), and never changes
//!   afterwards; the whole table parses in about a millisecond (optimised).
//! - A malformed row never panics and never takes the table down: it is left
//!   out and reported as a [`RowError`] naming its line; the other rows are
//!   still looked up. A test holds the embedded table to zero errors.
//! - A type that is not in the table (newer than the table, or a typo) is
//!   `None` ([`facts`]: unavailable, with the fix). Callers say the capacity
//!   is unknown; nothing here guesses limits from a type's name.
//! - Pods live on network card 0 (the CNI attaches pod ENIs there unless
//!   multi-NIC is requested per pod), so the conversion into the model's
//!   [`InstanceLimits`] takes card 0's limit (the default card's where there is
//!   no card 0): bare metal and multi-card types need nothing more.

use std::collections::HashMap;
use std::sync::OnceLock;

use thiserror::Error;

use crate::model::{InstanceLimits, InstanceTypeFacts};

/// The embedded table, as shipped in `core/data/`.
pub const EMBEDDED_CSV: &str = include_str!("../data/instance-network-limits.csv");

/// The header the table must start with; the column order is fixed.
pub const HEADER: &str = "instance_type,max_enis_default_card,ipv4_per_eni,\
                          default_network_card,network_cards,hypervisor,bare_metal";

/// One network card of an instance type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkCard {
    pub index: u32,
    /// ENIs this card can attach.
    pub max_enis: u32,
}

/// The hypervisor EC2 names for a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hypervisor {
    Nitro,
    Xen,
    /// EC2 names none: bare metal, and a few old types.
    Unreported,
}

/// What EC2 says about one instance type's networking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceNetworkLimits {
    /// ENIs the default network card can attach.
    pub max_enis_default_card: u32,
    /// IPv4 addresses per ENI (the primary address included).
    pub ipv4_per_eni: u32,
    /// Index of the default network card.
    pub default_network_card: u32,
    /// Every network card, by ascending index; never empty, always holds the
    /// default card.
    pub network_cards: Vec<NetworkCard>,
    pub hypervisor: Hypervisor,
    pub bare_metal: bool,
}

impl InstanceNetworkLimits {
    /// Whether the type runs on Nitro (prefix delegation needs it); `None`
    /// where EC2 names no hypervisor, as the EC2 witness reports it.
    pub fn nitro(&self) -> Option<bool> {
        match self.hypervisor {
            Hypervisor::Nitro => Some(true),
            Hypervisor::Xen => Some(false),
            Hypervisor::Unreported => None,
        }
    }

    /// The ENIs network card `index` can attach, if the type has that card.
    pub fn card_max_enis(&self, index: u32) -> Option<u32> {
        self.network_cards
            .iter()
            .find(|c| c.index == index)
            .map(|c| c.max_enis)
    }

    /// The limits pods are placed under: network card 0's ENIs (the default
    /// card's where there is no card 0) and the addresses per ENI.
    pub fn pod_limits(&self) -> InstanceLimits {
        InstanceLimits {
            max_enis: self.card_max_enis(0).unwrap_or(self.max_enis_default_card),
            ipv4_per_eni: self.ipv4_per_eni,
        }
    }
}

impl From<&InstanceNetworkLimits> for InstanceLimits {
    fn from(l: &InstanceNetworkLimits) -> Self {
        l.pod_limits()
    }
}

impl From<&InstanceNetworkLimits> for InstanceTypeFacts {
    fn from(l: &InstanceNetworkLimits) -> Self {
        InstanceTypeFacts {
            limits: l.pod_limits(),
            nitro: l.nitro(),
        }
    }
}

/// Why a row of the table was left out.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RowProblem {
    #[error("the header is not {HEADER:?}")]
    Header,
    #[error("{found} columns, expected 7")]
    Columns { found: usize },
    #[error("empty instance type")]
    EmptyType,
    #[error("{column}: {value:?} is not a whole number")]
    Number { column: &'static str, value: String },
    #[error("network card {value:?} is not index:max_enis")]
    Card { value: String },
    #[error("network card {index} is listed twice")]
    DuplicateCard { index: u32 },
    #[error("the default card {index} is not among the network cards")]
    MissingDefaultCard { index: u32 },
    #[error("the default card allows {card} ENIs, the row says {row}")]
    DefaultCardMismatch { card: u32, row: u32 },
    #[error("hypervisor {value:?} is not nitro, xen or unknown")]
    Hypervisor { value: String },
    #[error("bare_metal {value:?} is not true or false")]
    BareMetal { value: String },
    #[error("instance type {instance_type:?} already appeared")]
    Duplicate { instance_type: String },
}

/// A row left out of the table: its line (1 is the header) and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("instance network limits, line {line}: {problem}")]
pub struct RowError {
    pub line: usize,
    pub problem: RowProblem,
}

/// The parsed table: the good rows, and the errors of the rest.
#[derive(Debug, Clone, Default)]
pub struct LimitsTable {
    types: HashMap<String, InstanceNetworkLimits>,
    errors: Vec<RowError>,
}

impl LimitsTable {
    /// Parses a table in the embedded format. Every row that parses is kept;
    /// every other row becomes a [`RowError`]. A wrong header keeps nothing:
    /// the columns could not be trusted.
    pub fn parse(text: &str) -> LimitsTable {
        let mut table = LimitsTable::default();
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        match lines.next() {
            Some((_, h)) if h.trim_end() == HEADER => {}
            _ => {
                table.errors.push(RowError {
                    line: 1,
                    problem: RowProblem::Header,
                });
                return table;
            }
        }
        for (line, row) in lines {
            if row.trim().is_empty() {
                continue;
            }
            match parse_row(row) {
                Ok((name, limits)) => {
                    if table.types.contains_key(name) {
                        let instance_type = name.to_string();
                        let problem = RowProblem::Duplicate { instance_type };
                        table.errors.push(RowError { line, problem });
                    } else {
                        table.types.insert(name.to_string(), limits);
                    }
                }
                Err(problem) => table.errors.push(RowError { line, problem }),
            }
        }
        table
    }

    /// One type's limits, if the table has it.
    pub fn get(&self, instance_type: &str) -> Option<&InstanceNetworkLimits> {
        self.types.get(instance_type)
    }

    /// How many types the table holds.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// The rows that were left out, in the order of the file.
    pub fn errors(&self) -> &[RowError] {
        &self.errors
    }
}

/// The embedded table, parsed on first use.
pub fn embedded() -> &'static LimitsTable {
    static TABLE: OnceLock<LimitsTable> = OnceLock::new();
    TABLE.get_or_init(|| LimitsTable::parse(EMBEDDED_CSV))
}

/// The date of EC2's figures the embedded table was built from (its README).
pub const TABLE_DATE: &str = "2026-08-20";

/// The node's instance type as the checks take it: the table's limits, or
/// why there are none (the type is newer than the table, or misspelt). No
/// limits are guessed: capacity is then *unknown*, and the fix is a newer
/// eniwatch.
pub fn facts(instance_type: &str) -> crate::model::Observed<InstanceTypeFacts> {
    match embedded().get(instance_type) {
        Some(l) => Ok(l.into()),
        None => Err(crate::model::Unavailable::new(
            "instance_limits",
            format!(
                "instance type {instance_type} is not in eniwatch's table of {} types (built \
                 from EC2's figures of {TABLE_DATE}): capacity is not judged; upgrade eniwatch",
                embedded().len()
            ),
        )
        .with_kind("not_found")),
    }
}

/// One instance type's limits from the embedded table; `None` when the type
/// is not in it.
pub fn lookup(instance_type: &str) -> Option<InstanceNetworkLimits> {
    embedded().get(instance_type).cloned()
}

fn parse_row(row: &str) -> Result<(&str, InstanceNetworkLimits), RowProblem> {
    let fields: Vec<&str> = row.trim_end().split(',').map(str::trim).collect();
    let [name, enis, ips, default_card, cards, hypervisor, bare_metal] = fields[..] else {
        return Err(RowProblem::Columns {
            found: fields.len(),
        });
    };
    if name.is_empty() {
        return Err(RowProblem::EmptyType);
    }
    let max_enis_default_card = number("max_enis_default_card", enis)?;
    let ipv4_per_eni = number("ipv4_per_eni", ips)?;
    let default_network_card = number("default_network_card", default_card)?;
    let network_cards = parse_cards(cards)?;
    let card = network_cards
        .iter()
        .find(|c| c.index == default_network_card)
        .ok_or(RowProblem::MissingDefaultCard {
            index: default_network_card,
        })?;
    if card.max_enis != max_enis_default_card {
        return Err(RowProblem::DefaultCardMismatch {
            card: card.max_enis,
            row: max_enis_default_card,
        });
    }
    let hypervisor = match hypervisor {
        "nitro" => Hypervisor::Nitro,
        "xen" => Hypervisor::Xen,
        "unknown" => Hypervisor::Unreported,
        other => {
            return Err(RowProblem::Hypervisor {
                value: other.to_string(),
            })
        }
    };
    let bare_metal = match bare_metal {
        "true" => true,
        "false" => false,
        other => {
            return Err(RowProblem::BareMetal {
                value: other.to_string(),
            })
        }
    };
    let limits = InstanceNetworkLimits {
        max_enis_default_card,
        ipv4_per_eni,
        default_network_card,
        network_cards,
        hypervisor,
        bare_metal,
    };
    Ok((name, limits))
}

fn number(column: &'static str, value: &str) -> Result<u32, RowProblem> {
    value.parse().map_err(|_| RowProblem::Number {
        column,
        value: value.to_string(),
    })
}

/// `index:max_enis;...`, sorted by index, each index once.
fn parse_cards(value: &str) -> Result<Vec<NetworkCard>, RowProblem> {
    let bad = |v: &str| RowProblem::Card {
        value: v.to_string(),
    };
    let mut cards = Vec::new();
    for card in value.split(';') {
        let (index, max_enis) = card.split_once(':').ok_or_else(|| bad(card))?;
        let index = index.trim().parse().map_err(|_| bad(card))?;
        let max_enis = max_enis.trim().parse().map_err(|_| bad(card))?;
        cards.push(NetworkCard { index, max_enis });
    }
    cards.sort_by_key(|c| c.index);
    if let Some(w) = cards.windows(2).find(|w| w[0].index == w[1].index) {
        return Err(RowProblem::DuplicateCard { index: w[0].index });
    }
    Ok(cards)
}

#[cfg(test)]
#[path = "instance_limits_tests.rs"]
mod tests;

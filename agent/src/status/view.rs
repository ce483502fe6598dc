//! The one call into the pure part (`eniwatch_core::status`): the listed
//! input judged once, narrowed to `--nodegroup` / `--zone`, rendered.

use eniwatch_core::status::input::StatusInput;
use eniwatch_core::status::{render_json, render_text, StatusView};

use super::args::StatusOutput;

/// What is printed, and the exit code it implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub exit_code: u8,
}

/// How the text is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub width: usize,
    pub colour: bool,
}

/// Which nodegroup and zone the view is narrowed to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Narrow<'a> {
    pub nodegroup: Option<&'a str>,
    pub zone: Option<&'a str>,
}

/// The view of `input`, as text or JSON (pretty, one document, newline
/// terminated).
pub fn render(
    input: &StatusInput,
    narrow: Narrow<'_>,
    output: StatusOutput,
    layout: Layout,
) -> Result<Rendered, serde_json::Error> {
    let mut view = StatusView::from_input(input);
    if narrow.nodegroup.is_some() || narrow.zone.is_some() {
        view = view.filtered(narrow.nodegroup, narrow.zone);
    }
    let text = match output {
        StatusOutput::Text => render_text(&view, layout.width, layout.colour),
        StatusOutput::Json => serde_json::to_string_pretty(&render_json(&view))? + "\n",
    };
    let exit_code = u8::try_from(view.exit_code()).unwrap_or(2);
    Ok(Rendered { text, exit_code })
}

//! The one call into the pure part: judge the listed input once, render it.

use eniwatch_core::status::input::StatusInput;

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

/// The view of `input`, as text or JSON.
pub fn render(
    input: &StatusInput,
    output: StatusOutput,
    layout: Layout,
) -> Result<Rendered, serde_json::Error> {
    // STAND-IN until the pure part is merged.
    let _ = layout;
    let text = match output {
        StatusOutput::Text => format!("{} nodes, {} pods\n", input.nodes.len(), input.pods.len()),
        StatusOutput::Json => serde_json::to_string_pretty(input)? + "\n",
    };
    Ok(Rendered { text, exit_code: 0 })
}

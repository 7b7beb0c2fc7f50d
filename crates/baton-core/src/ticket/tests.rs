//! Tests of reading tickets: front matter, titles, sections and their items.

use pretty_assertions::assert_eq;

use super::*;

#[test]
fn a_ticket_with_front_matter_takes_its_id_and_title_and_ignores_other_keys() {
    let text = "---\nid: PROJ-12\ntitle: Parse tickets\nstate: In Progress\nlabels:\n  - core\n  - parser\n---\n\nThe body.\n";
    let ticket = Ticket::parse(text, "fallback").unwrap();
    assert_eq!(
        ticket,
        Ticket {
            id: "PROJ-12".into(),
            title: "Parse tickets".into(),
            body: "The body.".into(),
            acceptance: vec![],
            scope: vec![],
            constraints: vec![],
        }
    );
}

#[test]
fn a_ticket_without_front_matter_takes_the_fallback_id_and_its_first_heading() {
    let text = "Some words before.\n\n# Add a cache\n\nWhy.\n";
    let ticket = Ticket::parse(text, "T-7").unwrap();
    assert_eq!(ticket.id, "T-7");
    assert_eq!(ticket.title, "Add a cache");
    assert_eq!(ticket.body, "Some words before.\n\n# Add a cache\n\nWhy.");
}

#[test]
fn a_ticket_with_no_title_and_no_heading_is_titled_by_its_id() {
    let ticket = Ticket::parse("Just a sentence.", "T-8").unwrap();
    assert_eq!(ticket.title, "T-8");
}

#[test]
fn quoted_front_matter_values_lose_their_quotes_and_keep_their_escapes() {
    let text = "---\nid: 'it''s-1'\ntitle: \"Fix \\\"retry\\\": #123\"\n---\nBody\n";
    let ticket = Ticket::parse(text, "x").unwrap();
    assert_eq!(ticket.id, "it's-1");
    assert_eq!(ticket.title, "Fix \"retry\": #123");
}

#[test]
fn an_unquoted_value_keeps_a_hash_as_part_of_the_title() {
    let ticket = Ticket::parse("---\ntitle: Fix #123 crash\n---\n", "x").unwrap();
    assert_eq!(ticket.title, "Fix #123 crash");
}

#[test]
fn a_folded_title_joins_its_lines() {
    let text = "---\ntitle: >\n  A long\n  title\nid: T-1\n---\nBody\n";
    let ticket = Ticket::parse(text, "x").unwrap();
    assert_eq!(ticket.title, "A long title");
    assert_eq!(ticket.id, "T-1");
}

#[test]
fn unclosed_front_matter_names_the_line_that_opened_it() {
    let error = Ticket::parse("---\nid: T-1\ntitle: x\n\nBody\n", "x").unwrap_err();
    assert_eq!(error, TicketError::UnclosedFrontMatter { line: 1 });
    assert_eq!(
        error.to_string(),
        "line 1: the front matter opened here is never closed by a `---` line"
    );
}

#[test]
fn a_front_matter_line_that_is_not_key_value_is_named_with_its_line() {
    let error = Ticket::parse("---\nid: T-1\nnot a pair\n---\nBody\n", "x").unwrap_err();
    assert_eq!(
        error,
        TicketError::BadFrontMatter {
            line: 3,
            text: "not a pair".into()
        }
    );
    assert!(
        error.to_string().starts_with("line 3: `not a pair`"),
        "{error}"
    );
}

#[test]
fn an_unclosed_quote_names_its_key_and_line() {
    let error = Ticket::parse("---\nid: T-1\ntitle: \"half\n---\nBody\n", "x").unwrap_err();
    assert_eq!(
        error,
        TicketError::UnclosedQuote {
            line: 3,
            key: "title".into()
        }
    );
}

#[test]
fn an_empty_ticket_is_an_error() {
    assert_eq!(
        Ticket::parse("  \n\n", "x").unwrap_err(),
        TicketError::EmptyTicket
    );
    assert_eq!(
        Ticket::parse("---\nid: T-1\n---\n\n", "x").unwrap_err(),
        TicketError::EmptyTicket
    );
}

#[test]
fn acceptance_criteria_lose_their_checkboxes_and_join_their_continuation_lines() {
    let text = "\
# Title

## Acceptance criteria

- [ ] the parser reads
  front matter
- [x] errors name the line
* [X] star items count
+ plus items count
1. numbered items count
2) so do these
-   [ ]   spaces around are trimmed
";
    let ticket = Ticket::parse(text, "x").unwrap();
    assert_eq!(
        ticket.acceptance,
        vec![
            "the parser reads front matter",
            "errors name the line",
            "star items count",
            "plus items count",
            "numbered items count",
            "so do these",
            "spaces around are trimmed",
        ]
    );
}

#[test]
fn a_line_straight_after_an_item_continues_it_but_one_after_a_blank_does_not() {
    let text = "## Acceptance\n- first\nlazy continuation\n\n  indented after a blank\n\nA paragraph.\n- second\n";
    let ticket = Ticket::parse(text, "x").unwrap();
    assert_eq!(
        ticket.acceptance,
        vec!["first lazy continuation indented after a blank", "second"]
    );
}

#[test]
fn section_headings_match_at_level_two_or_three_in_any_case() {
    let text =
        "### ACCEPTANCE CRITERIA:\n- a\n## Scope\n- only the parser\n### Constraints\n- no I/O\n";
    let ticket = Ticket::parse(text, "x").unwrap();
    assert_eq!(ticket.acceptance, vec!["a"]);
    assert_eq!(ticket.scope, vec!["only the parser"]);
    assert_eq!(ticket.constraints, vec!["no I/O"]);
}

#[test]
fn a_level_one_or_four_heading_is_not_a_section() {
    let text = "# Acceptance criteria\n- a\n#### Acceptance criteria\n- b\n";
    let ticket = Ticket::parse(text, "x").unwrap();
    assert_eq!(ticket.acceptance, Vec::<String>::new());
}

#[test]
fn a_section_ends_at_the_next_heading_of_its_level_or_higher_but_not_a_lower_one() {
    let text = "\
## Acceptance criteria
- one
### Error cases
- two
## Notes
- not a criterion
";
    let ticket = Ticket::parse(text, "x").unwrap();
    assert_eq!(ticket.acceptance, vec!["one", "two"]);
}

#[test]
fn a_level_three_section_ends_at_a_level_two_heading() {
    let text = "### Scope\n- a\n## Design\n- b\n";
    assert_eq!(Ticket::parse(text, "x").unwrap().scope, vec!["a"]);
}

#[test]
fn headings_and_items_inside_code_fences_are_not_read() {
    let text = "\
## Acceptance criteria
- real
```markdown
## Scope
- fenced
```
## Scope
- also real
";
    let ticket = Ticket::parse(text, "x").unwrap();
    assert_eq!(ticket.acceptance, vec!["real"]);
    assert_eq!(ticket.scope, vec!["also real"]);
}

#[test]
fn a_section_written_as_sentences_gives_its_paragraphs() {
    let text = "## Constraints\nNo new dependencies.\nKeep it small.\n\nNo I/O.\n";
    let ticket = Ticket::parse(text, "x").unwrap();
    assert_eq!(
        ticket.constraints,
        vec!["No new dependencies. Keep it small.", "No I/O."]
    );
}

#[test]
fn a_thematic_break_is_not_an_item() {
    let text = "## Scope\n- a\n\n---\n\n* * *\n- b\n";
    assert_eq!(Ticket::parse(text, "x").unwrap().scope, vec!["a", "b"]);
}

#[test]
fn the_first_paragraph_skips_headings_lists_and_the_known_sections() {
    let body = "# Title\n\n- a list\n  continued\n\n## Acceptance criteria\nNot this.\n- x\n\n## Background\nThe cache misses\nevery time.\n\nLater.";
    assert_eq!(
        first_paragraph(body).as_deref(),
        Some("The cache misses every time.")
    );
    assert_eq!(first_paragraph("# Only a title\n- and a list"), None);
}

#[test]
fn windows_line_endings_and_a_byte_order_mark_are_read_alike() {
    let text = "\u{feff}---\r\nid: T-2\r\n---\r\n## Scope\r\n- a\r\n  b\r\n";
    let ticket = Ticket::parse(text, "x").unwrap();
    assert_eq!(ticket.id, "T-2");
    assert_eq!(ticket.scope, vec!["a b"]);
}

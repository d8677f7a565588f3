//! Server-Sent Events framing, as the WHATWG "event stream interpretation"
//! says: bytes in, in whatever pieces the network delivers them, events out.
//! Pure, so it is tested on the host.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The `event:` field, or "message" when the stream named none.
    pub name: String,
    pub data: String,
    /// The last event id once this event was dispatched: where to resume.
    pub id: String,
}

#[derive(Debug, Default)]
pub struct Parser {
    /// The line not yet ended, as bytes: decoded only once whole, so a UTF-8
    /// character split between two chunks is read right.
    line: Vec<u8>,
    /// The last byte was a CR: an LF right after it ends no second line (a
    /// CRLF may be split between two chunks).
    after_cr: bool,
    /// Past the first line (only the stream's first line may start with a
    /// byte order mark).
    started: bool,
    name: String,
    data: String,
    /// The `id:` seen last; it becomes the last event id at the next blank line.
    id_buffer: String,
    last_id: String,
}

impl Parser {
    /// A parser for a stream that resumes after `last_id` (empty: none), which
    /// stays the last event id until the stream sends another.
    pub fn resuming(last_id: String) -> Self {
        Self {
            id_buffer: last_id.clone(),
            last_id,
            ..Self::default()
        }
    }

    /// The last event id, moved by every blank line after an `id:`, with or
    /// without data (a keep-alive moves it and dispatches nothing).
    pub fn last_event_id(&self) -> &str {
        &self.last_id
    }

    /// Reads the next chunk; the events it completes, in order. An event the
    /// stream ends in the middle of is never dispatched.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        for &byte in chunk {
            match byte {
                b'\n' if std::mem::take(&mut self.after_cr) => {}
                b'\r' | b'\n' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.line_ended(&line, &mut events);
                }
                _ => {
                    self.after_cr = false;
                    self.line.push(byte);
                }
            }
        }
        events
    }

    fn line_ended(&mut self, line: &[u8], events: &mut Vec<Event>) {
        let decoded = String::from_utf8_lossy(line);
        let mut line: &str = &decoded;
        if !std::mem::replace(&mut self.started, true) {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = value.to_string(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.id_buffer = value.to_string(),
            // `retry:` is read and left alone: when to reconnect is decided
            // by the stream's own policy (promptly after a clean end, backing
            // off after failures). Unknown fields are ignored too.
            _ => {}
        }
    }

    fn dispatch(&mut self, events: &mut Vec<Event>) {
        self.last_id = self.id_buffer.clone();
        let name = std::mem::take(&mut self.name);
        let mut data = std::mem::take(&mut self.data);
        if data.is_empty() {
            return;
        }
        data.pop();
        events.push(Event {
            name: if name.is_empty() {
                "message".into()
            } else {
                name
            },
            data,
            id: self.last_id.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: &str, id: &str) -> Event {
        Event {
            name: name.into(),
            data: data.into(),
            id: id.into(),
        }
    }

    /// What the server sends: retry, a ready, a keep-alive, a task change.
    const STREAM: &str = "retry: 2000\n\nevent: ready\nid: 7-0\ndata: {}\n\n\
        : keep-alive\nid: 7-0\n\n\
        event: task\nid: 7-1\ndata: {\"type\":\"task.updated\",\"task_id\":3,\"version\":2}\n\n";

    fn expected() -> Vec<Event> {
        vec![
            event("ready", "{}", "7-0"),
            event(
                "task",
                r#"{"type":"task.updated","task_id":3,"version":2}"#,
                "7-1",
            ),
        ]
    }

    #[test]
    fn reads_the_servers_events() {
        let mut parser = Parser::default();
        assert_eq!(parser.feed(STREAM.as_bytes()), expected());
        assert_eq!(parser.last_event_id(), "7-1");
    }

    #[test]
    fn crlf_cr_and_lf_all_end_lines() {
        for ending in ["\r\n", "\r", "\n"] {
            let stream = STREAM.replace('\n', ending);
            assert_eq!(
                Parser::default().feed(stream.as_bytes()),
                expected(),
                "{ending:?}"
            );
        }
    }

    #[test]
    fn chunks_may_split_anywhere() {
        for ending in ["\r\n", "\n", "\r"] {
            let stream = STREAM.replace('\n', ending).into_bytes();
            for at in 0..=stream.len() {
                let mut parser = Parser::default();
                let mut events = parser.feed(&stream[..at]);
                events.extend(parser.feed(&stream[at..]));
                assert_eq!(events, expected(), "split at {at} with {ending:?}");
            }
            let mut parser = Parser::default();
            let events: Vec<Event> = stream.iter().flat_map(|b| parser.feed(&[*b])).collect();
            assert_eq!(events, expected(), "byte by byte with {ending:?}");
        }
    }

    #[test]
    fn a_character_split_between_chunks_is_read_whole() {
        let stream = "data: “Buy milk”\n\n".as_bytes();
        // Inside the three bytes of “.
        let (first, second) = stream.split_at(7);
        let mut parser = Parser::default();
        assert!(parser.feed(first).is_empty());
        assert_eq!(parser.feed(second), [event("message", "“Buy milk”", "")]);
    }

    #[test]
    fn a_cr_ending_one_chunk_and_an_lf_starting_the_next_end_one_line() {
        let mut parser = Parser::default();
        assert!(parser.feed(b"data: a\r").is_empty());
        assert_eq!(
            parser.feed(b"\ndata: b\r\n\r\n"),
            [event("message", "a\nb", "")]
        );
    }

    #[test]
    fn an_id_without_data_moves_the_last_event_id_and_dispatches_nothing() {
        let mut parser = Parser::resuming("7-1".into());
        assert!(parser.feed(b": keep-alive\nid: 7-9\n").is_empty());
        assert_eq!(parser.last_event_id(), "7-1", "not before the blank line");
        assert!(parser.feed(b"\n").is_empty());
        assert_eq!(parser.last_event_id(), "7-9");
        // The next event without an id keeps it.
        assert_eq!(parser.feed(b"data: x\n\n"), [event("message", "x", "7-9")]);
    }

    #[test]
    fn fields_follow_the_spec() {
        let mut parser = Parser::default();
        let events = parser.feed(
            "\u{feff}data:  two spaces\ndata\nfoo: ignored\nid: bad\0id\nevent: x\n\n".as_bytes(),
        );
        assert_eq!(events, [event("x", " two spaces\n", "")]);
    }

    #[test]
    fn an_unfinished_event_is_not_dispatched() {
        let mut parser = Parser::default();
        assert!(parser.feed(b"event: task\nid: 1-1\ndata: {}\n").is_empty());
        assert_eq!(parser.last_event_id(), "");
    }
}

//! Where an HTTP/2 caller is in sending a header block, read off the frames as they arrive, so the
//! header-read deadline applies to HTTP/2 as it does to HTTP/1.1 (docs/behaviour.md §11).
//!
//! A header block is a HEADERS frame and the CONTINUATION frames that follow it, up to the frame
//! flagged END_HEADERS (RFC 9113, HTTP/2, sections 4.3 and 6.10); nothing else may come between
//! them on the connection. It is in progress from the moment a HEADERS frame's 9-byte frame header
//! has arrived until the last byte of the frame that ends it. A caller that trickles such a block
//! (a frame a second, or a byte a second within a frame) keeps the connection busy without ever
//! making a request; hyper counts no request until the block is complete, and every byte would
//! reset the idle clock. The HTTP/2 layer itself still checks everything: this only watches.

/// The client connection preface, before the first frame.
const PREFACE_LEN: usize = 24;
const FRAME_HEADER_LEN: usize = 9;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_HEADERS: u8 = 0x4;

/// The reader's position in the caller's byte stream.
#[derive(Debug)]
pub(crate) struct HeaderBlocks {
    /// Preface bytes still to skip.
    preface_left: usize,
    /// The frame header being read, and how much of it has arrived.
    header: [u8; FRAME_HEADER_LEN],
    header_filled: usize,
    /// Payload bytes of the current frame still to come.
    payload_left: usize,
    /// The current frame ends the header block when its payload is done.
    ends_block: bool,
    /// A header block is in progress.
    open: bool,
}

impl HeaderBlocks {
    /// A watcher for a connection whose first bytes are the HTTP/2 preface.
    pub(crate) fn new() -> HeaderBlocks {
        HeaderBlocks {
            preface_left: PREFACE_LEN,
            header: [0; FRAME_HEADER_LEN],
            header_filled: 0,
            payload_left: 0,
            ends_block: false,
            open: false,
        }
    }

    /// Whether a header block is in progress.
    pub(crate) fn in_progress(&self) -> bool {
        self.open
    }

    /// Follows `bytes`, the next bytes read from the caller.
    pub(crate) fn read(&mut self, mut bytes: &[u8]) {
        let skipped = self.preface_left.min(bytes.len());
        self.preface_left -= skipped;
        bytes = &bytes[skipped..];
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let taken = self.payload_left.min(bytes.len());
                self.payload_left -= taken;
                bytes = &bytes[taken..];
                if self.payload_left == 0 {
                    self.frame_done();
                }
                continue;
            }
            let taken = (FRAME_HEADER_LEN - self.header_filled).min(bytes.len());
            self.header[self.header_filled..self.header_filled + taken]
                .copy_from_slice(&bytes[..taken]);
            self.header_filled += taken;
            bytes = &bytes[taken..];
            if self.header_filled == FRAME_HEADER_LEN {
                self.header_filled = 0;
                self.frame_started();
            }
        }
    }

    /// A frame header has arrived.
    fn frame_started(&mut self) {
        let [l0, l1, l2, kind, flags, ..] = self.header;
        self.payload_left = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
        // Another kind of frame inside a block is the HTTP/2 layer's error to find.
        self.ends_block = matches!(kind, HEADERS | CONTINUATION) && flags & END_HEADERS != 0;
        if kind == HEADERS {
            self.open = true;
        }
        if self.payload_left == 0 {
            self.frame_done();
        }
    }

    /// The current frame's payload is complete.
    fn frame_done(&mut self) {
        if self.ends_block {
            self.open = false;
            self.ends_block = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let length = u32::try_from(payload.len()).unwrap().to_be_bytes();
        let mut frame = length[1..].to_vec();
        frame.extend_from_slice(&[kind, flags, 0, 0, 0, 1]);
        frame.extend_from_slice(payload);
        frame
    }

    /// Feeds `bytes` one byte at a time and returns whether a block was open after each.
    fn trace(bytes: &[u8]) -> Vec<bool> {
        let mut blocks = HeaderBlocks::new();
        bytes
            .iter()
            .map(|byte| {
                blocks.read(std::slice::from_ref(byte));
                blocks.in_progress()
            })
            .collect()
    }

    #[test]
    fn a_block_is_open_from_its_headers_frame_header_to_its_end() {
        let settings = frame(0x4, 0, &[]);
        let headers = frame(HEADERS, 0, b"abc");
        let continuation = frame(CONTINUATION, 0, b"de");
        let last = frame(CONTINUATION, END_HEADERS, b"f");
        let data = frame(0x0, 0x1, b"body");
        let stream = [PREFACE, &settings, &headers, &continuation, &last, &data].concat();
        let open = trace(&stream);
        let headers_start = PREFACE.len() + settings.len();
        let block_end = headers_start + headers.len() + continuation.len() + last.len();
        for (at, open) in open.iter().enumerate() {
            let expected = at >= headers_start + FRAME_HEADER_LEN - 1 && at < block_end - 1;
            assert_eq!(*open, expected, "byte {at}");
        }
    }

    #[test]
    fn whole_reads_and_empty_frames_agree() {
        let block = [
            PREFACE.to_vec(),
            frame(HEADERS, END_HEADERS | 0x1, b""),
            frame(HEADERS, 0, b"x"),
        ]
        .concat();
        let mut blocks = HeaderBlocks::new();
        blocks.read(&block[..PREFACE.len() + FRAME_HEADER_LEN]);
        assert!(
            !blocks.in_progress(),
            "an empty HEADERS with END_HEADERS is done"
        );
        blocks.read(&block[PREFACE.len() + FRAME_HEADER_LEN..]);
        assert!(blocks.in_progress(), "a HEADERS without END_HEADERS waits");
        blocks.read(&frame(CONTINUATION, END_HEADERS, b""));
        assert!(!blocks.in_progress());
    }

    proptest::proptest! {
        /// However the caller's bytes are cut into reads, the watcher ends in the same place.
        #[test]
        fn reads_cut_anywhere_agree(
            frames in proptest::collection::vec(
                (proptest::sample::select(vec![0u8, HEADERS, 0x4, CONTINUATION]),
                 proptest::sample::select(vec![0u8, END_HEADERS, 0x1]),
                 proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)),
                0..8),
            cuts in proptest::collection::vec(proptest::prelude::any::<proptest::sample::Index>(), 0..6),
        ) {
            let bytes: Vec<u8> = [PREFACE.to_vec()]
                .into_iter()
                .chain(frames.iter().map(|(kind, flags, payload)| frame(*kind, *flags, payload)))
                .collect::<Vec<_>>()
                .concat();
            let mut whole = HeaderBlocks::new();
            whole.read(&bytes);
            let mut edges: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
            edges.sort_unstable();
            let mut pieces = HeaderBlocks::new();
            let mut start = 0;
            for edge in edges.into_iter().chain([bytes.len()]) {
                pieces.read(&bytes[start..edge.max(start)]);
                start = edge.max(start);
            }
            proptest::prop_assert_eq!(whole.in_progress(), pieces.in_progress());
            proptest::prop_assert_eq!(whole.in_progress(), trace(&bytes).last().copied().unwrap_or(false));
        }
    }
}

//! Reading an HTTP answer's body with an upper bound on its size.
//!
//! A source that reads whatever it is sent can be made to hold any amount of
//! memory by a broken or hostile endpoint (a 64 MiB answer from an emulator
//! once took a one-shot check to 163 MiB). Every body is therefore read in
//! chunks and refused as soon as it passes its limit; a `Content-Length`
//! over the limit is refused before any of the body is read.

use reqwest::Response;

/// Why a body was not read.
#[derive(Debug)]
pub enum BodyError {
    /// The answer is larger than the limit.
    TooLarge,
    /// The connection failed while the body was read.
    Transport(reqwest::Error),
}

/// Reads `resp`'s body, refusing it once it passes `limit` bytes.
pub async fn read_limited(mut resp: Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if resp
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > limit))
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A limit in words: `1 MiB`, `512 KiB`, `100 bytes`.
pub fn size_text(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_words() {
        assert_eq!(size_text(1024 * 1024), "1 MiB");
        assert_eq!(size_text(4 * 1024 * 1024), "4 MiB");
        assert_eq!(size_text(2048), "2 KiB");
        assert_eq!(size_text(100), "100 bytes");
    }
}

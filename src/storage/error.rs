//! Object-store failures as one line naming the URL: the kind (not found, access
//! denied, ...) and the server's error code when it sent one, never a Rust `Debug`.

use crate::Error;

/// The S3-style error code in a response body (`<Code>NoSuchBucket</Code>`).
fn server_code(text: &str) -> Option<&str> {
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(&text[start..start + len])
}

/// `e` (from an operation on `url`) as [`Error::Storage`].
pub fn storage_error(url: &str, e: object_store::Error) -> Error {
    use object_store::Error as E;
    let text = e.to_string();
    let code = server_code(&text).map(str::to_string);
    let with_code = |what: &str| match &code {
        Some(c) => format!("{what} ({c})"),
        None => what.to_string(),
    };
    let detail = match (&e, code.as_deref()) {
        (_, Some("NoSuchBucket")) => "the bucket does not exist (NoSuchBucket)".to_string(),
        (E::NotFound { .. }, _) => with_code("not found"),
        (E::PermissionDenied { .. }, _) | (E::Unauthenticated { .. }, _) => with_code(
            "access denied: check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY or the storage options)",
        ),
        (E::AlreadyExists { .. }, _) => with_code("already exists"),
        (_, Some(c)) if c.contains("AccessDenied") || c.contains("Signature") || c.contains("InvalidAccessKey") => {
            format!("access denied: check the credentials ({c})")
        }
        _ => one_line(&text),
    };
    Error::Storage {
        url: url.to_string(),
        detail,
    }
}

/// `text` on one line, without the XML body a server may have sent, cut to a
/// readable length.
fn one_line(text: &str) -> String {
    let text = text.split("<?xml").next().unwrap_or(text);
    let mut s: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str(" ...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_single_lines() {
        assert_eq!(server_code("x <Code>NoSuchKey</Code> y"), Some("NoSuchKey"));
        assert_eq!(server_code("no code"), None);
        let long = format!("a\nb {}", "z".repeat(400));
        let line = one_line(&long);
        assert!(!line.contains('\n'));
        assert!(line.len() < 310 && line.ends_with(" ..."));
    }
}

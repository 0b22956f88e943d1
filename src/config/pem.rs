//! PEM text, as Kafka's `ssl.keystore.type=PEM` files and values hold it: the broker's TLS
//! settings (`config::security`) and the tools' client properties (`cli::client::security`)
//! both check what a file holds before rustls reads it, so that a wrong file is named with
//! its key instead of failing in a handshake.

/// The PEM blocks of `text`: each block's label and its whole text (BEGIN to END lines). A
/// block without its END line is not one.
pub fn pem_blocks(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let start = rest.find("-----BEGIN ")?;
        let after = &rest[start + "-----BEGIN ".len()..];
        let label_end = after.find("-----")?;
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let end = rest[start..].find(&end_marker)? + start + end_marker.len();
        let block = &rest[start..end];
        rest = &rest[end..];
        Some((label, block))
    })
}

/// Whether `text` has a PEM block whose label passes `wanted`.
pub fn has_block(text: &str, wanted: impl Fn(&str) -> bool) -> bool {
    pem_blocks(text).any(|(label, _)| wanted(label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_found_by_label_with_their_text() {
        let text = "junk\n-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----\n\
                    -----BEGIN CERTIFICATE-----\ny\n-----END CERTIFICATE-----";
        let blocks: Vec<_> = pem_blocks(text).collect();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].0, "EC PRIVATE KEY");
        assert!(blocks[0].1.starts_with("-----BEGIN EC") && blocks[0].1.ends_with("KEY-----"));
        assert_eq!(blocks[1].0, "CERTIFICATE");
        assert!(has_block(text, |l| l.ends_with("PRIVATE KEY")));
        assert!(!has_block(text, |l| l == "RSA PRIVATE KEY"));
        assert!(!has_block("-----BEGIN CERT", |_| true));
        assert!(!has_block("-----BEGIN CERTIFICATE-----\nno end", |_| true));
    }
}

//! Decoding the PNGs of drawn plots, to check they are the plot size and carry real content.

use netc::report::plot::SIZE;

/// Decodes a plot's PNG, checks it has the plot size and returns its RGB pixels.
pub fn decode_plot(bytes: &[u8], what: &str) -> Vec<u8> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a valid PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("fits in memory")];
    let info = reader.next_frame(&mut buf).expect("one frame");
    assert_eq!((info.width, info.height), SIZE, "{what}");
    buf.truncate(info.buffer_size());
    buf
}

/// Decodes a plot's PNG and checks it has the plot size and real content: axes, labels and
/// lines (or cells) put ink on more than 1% of the pixels, in many colours.
pub fn assert_plot_has_content(bytes: &[u8], what: &str) {
    let pixels = decode_plot(bytes, what);
    let inked = pixels
        .chunks(3)
        .filter(|p| p.iter().any(|&c| c < 200))
        .count();
    let colours: std::collections::HashSet<&[u8]> = pixels.chunks(3).collect();
    assert!(
        inked * 100 > pixels.len() / 3,
        "{what}: only {inked} pixels inked"
    );
    assert!(colours.len() >= 8, "{what}: {} colours", colours.len());
}

//! Parameters through safetensors files: bit-exact round trips, files written by the reference
//! Python package (tests/data/params, see make_fixtures.py there), shape checks that report
//! everything at once, and errors — never panics — on damaged files.

use netc::ir::Tensor;
use netc::params::{temp_path, ParamStore, ParamsError};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("params")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/params")
        .join(name)
}

fn bits(tensor: &Tensor<f32>) -> Vec<u32> {
    tensor.data.iter().map(|v| v.to_bits()).collect()
}

/// A store with the awkward values: signed zero, subnormals, infinities, NaN payloads, a scalar.
fn awkward_store() -> ParamStore {
    let mut store = ParamStore::new();
    let specials = [
        0.0,
        -0.0,
        f32::MIN_POSITIVE / 8.0,
        f32::MAX,
        f32::NEG_INFINITY,
        f32::from_bits(0x7fc0_1234),
        f32::from_bits(0xff80_0001),
        1.0 / 3.0,
    ];
    store.insert("hidden1.weight", Tensor::new(vec![2, 4], specials.to_vec()));
    store.insert("hidden1.bias", Tensor::new(vec![2], vec![0.5, -0.25]));
    store.insert("bn.running_var", Tensor::new(vec![3], vec![1.0; 3]));
    store.insert("temperature", Tensor::scalar(2.5));
    store
}

fn assert_bit_equal(a: &ParamStore, b: &ParamStore) {
    assert_eq!(a.names().collect::<Vec<_>>(), b.names().collect::<Vec<_>>());
    for (name, tensor) in a.iter() {
        let other = b.get(name).expect("same names");
        assert_eq!(tensor.shape, other.shape, "{name}");
        assert_eq!(bits(tensor), bits(other), "{name}");
    }
}

#[test]
fn round_trip_is_bit_exact_with_metadata() {
    let dir = scratch_dir("round_trip");
    let path = dir.join("w.safetensors");
    let store = awkward_store();
    let metadata = BTreeMap::from([
        ("model".to_string(), "xor.net".to_string()),
        ("step".to_string(), "1200".to_string()),
        ("unicode".to_string(), "σ → ∂L/∂a".to_string()),
    ]);
    store.save_safetensors(&path, &metadata).expect("save");
    let (loaded, loaded_metadata) = ParamStore::load_safetensors(&path).expect("load");
    assert_bit_equal(&store, &loaded);
    assert_eq!(loaded_metadata, metadata);
    assert!(!temp_path(&path).exists(), "the temp file is renamed away");
}

#[test]
fn empty_metadata_writes_no_metadata_entry_and_reads_back_empty() {
    let dir = scratch_dir("empty_metadata");
    let path = dir.join("w.safetensors");
    awkward_store()
        .save_safetensors(&path, &BTreeMap::new())
        .expect("save");
    let bytes = std::fs::read(&path).expect("read");
    assert!(!String::from_utf8_lossy(&bytes).contains("__metadata__"));
    let (_, metadata) = ParamStore::load_safetensors(&path).expect("load");
    assert!(metadata.is_empty());
}

#[test]
fn saving_replaces_an_existing_file_and_ignores_a_stale_temp_file() {
    let dir = scratch_dir("replace");
    let path = dir.join("w.safetensors");
    awkward_store()
        .save_safetensors(&path, &BTreeMap::new())
        .expect("first save");
    std::fs::write(temp_path(&path), b"half a file from a crash").expect("stale temp");
    let mut second = ParamStore::new();
    second.insert("only", Tensor::new(vec![1], vec![7.0]));
    second
        .save_safetensors(&path, &BTreeMap::new())
        .expect("second save");
    let (loaded, _) = ParamStore::load_safetensors(&path).expect("load");
    assert_eq!(loaded, second);
    assert!(!temp_path(&path).exists());
}

#[test]
fn reads_f32_written_by_the_python_package() {
    let (store, metadata) = ParamStore::load_safetensors(&fixture("torch_f32.safetensors"))
        .expect("python fixture loads");
    assert_eq!(
        store.names().collect::<Vec<_>>(),
        [
            "hidden1.bias",
            "hidden1.weight",
            "out.weight",
            "temperature"
        ]
    );
    let weight = store.get("hidden1.weight").expect("weight");
    assert_eq!(weight.shape, [2, 3]);
    assert_eq!(weight.data, [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]);
    assert_eq!(store.get("hidden1.bias").expect("bias").data, [0.1, -0.2]);
    let out = store.get("out.weight").expect("out");
    assert_eq!(bits(out), [1, 0x8000_0000, f32::MAX.to_bits()]);
    let temperature = store.get("temperature").expect("scalar");
    assert_eq!(
        (temperature.shape.as_slice(), temperature.data[0]),
        (&[][..], 1.5)
    );
    assert_eq!(metadata.get("format").map(String::as_str), Some("pt"));
    assert_eq!(metadata.len(), 2);
}

#[test]
fn the_data_netc_writes_matches_what_python_writes_byte_for_byte() {
    let (store, metadata) =
        ParamStore::load_safetensors(&fixture("torch_f32.safetensors")).expect("load");
    let dir = scratch_dir("same_bytes");
    let path = dir.join("w.safetensors");
    store.save_safetensors(&path, &metadata).expect("save");
    // Metadata is a hash map on both sides, so compare after re-reading rather than raw
    // header bytes; the data section must be identical.
    let ours = std::fs::read(&path).expect("ours");
    let theirs = std::fs::read(fixture("torch_f32.safetensors")).expect("theirs");
    let data_section = |bytes: &[u8]| {
        let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
        bytes[8 + header_len..].to_vec()
    };
    assert_eq!(data_section(&ours), data_section(&theirs));
}

#[test]
fn widens_f16_and_rounds_f64() {
    let (store, _) =
        ParamStore::load_safetensors(&fixture("float_widths.safetensors")).expect("load");
    let half = store.get("half").expect("half");
    assert_eq!(
        half.data,
        [1.0, -2.0, 0.333_251_95, 65504.0, 2f32.powi(-24)]
    );
    let double = store.get("double").expect("double");
    assert_eq!(double.shape, [2, 2]);
    assert_eq!(
        double.data,
        [0.1f64 as f32, -1e-3f64 as f32, 2.0, f32::INFINITY]
    );
}

#[test]
fn widens_bf16() {
    // BF16 is the top half of an f32: 1.0 = 0x3f80, -2.5 = 0xc020.
    let header = br#"{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0x80, 0x3f, 0x20, 0xc0]);
    let (store, _) = ParamStore::from_safetensors_bytes(&bytes, Path::new("bf16.safetensors"))
        .expect("bf16 loads");
    assert_eq!(store.get("w").expect("w").data, [1.0, -2.5]);
}

#[test]
fn integer_tensors_are_refused_by_name() {
    let path = fixture("int64.safetensors");
    let err = ParamStore::load_safetensors(&path).expect_err("I64 is not a parameter");
    assert!(
        matches!(&err, ParamsError::UnsupportedDtype { name, dtype, .. } if name == "step_count" && dtype == "I64"),
        "{err:?}"
    );
    assert!(err.to_string().contains("int64.safetensors"), "{err}");
}

fn expected_shapes() -> Vec<(&'static str, Vec<usize>)> {
    vec![
        ("bn.running_var", vec![3]),
        ("hidden1.bias", vec![2]),
        ("hidden1.weight", vec![2, 4]),
        ("temperature", vec![]),
    ]
}

#[test]
fn check_against_accepts_an_exact_match() {
    awkward_store()
        .check_against(&expected_shapes())
        .expect("matches");
}

#[test]
fn check_against_reports_every_difference_at_once() {
    let mut store = awkward_store();
    store.remove("bn.running_var");
    store.insert("hidden1.weight", Tensor::new(vec![4, 2], vec![0.0; 8]));
    store.insert("extra.weight", Tensor::new(vec![1], vec![0.0]));
    store.insert("extra.bias", Tensor::new(vec![1], vec![0.0]));
    let Err(ParamsError::Mismatch { file, report }) = store.check_against(&expected_shapes())
    else {
        panic!("a mismatch is expected");
    };
    assert_eq!(file, None);
    assert_eq!(report.missing, [("bn.running_var".to_string(), vec![3])]);
    assert_eq!(
        report.unexpected,
        [
            ("extra.bias".to_string(), vec![1]),
            ("extra.weight".to_string(), vec![1])
        ]
    );
    assert_eq!(
        report.wrong_shape,
        [("hidden1.weight".to_string(), vec![2, 4], vec![4, 2])]
    );
}

#[test]
fn load_expecting_names_the_file_in_a_mismatch() {
    let path = fixture("torch_f32.safetensors");
    let expected = [("hidden1.weight", vec![3, 2]), ("hidden1.bias", vec![2])];
    let err = ParamStore::load_expecting(&path, &expected).expect_err("mismatch");
    let message = err.to_string();
    assert_eq!(
        message,
        format!(
            "the parameters in {} do not match the model:\n  \
             unexpected:  out.weight [1, 3]\n  \
             unexpected:  temperature []\n  \
             wrong shape: hidden1.weight is [2, 3], the model needs [3, 2]",
            path.display()
        )
    );
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let path = scratch_dir("missing").join("nowhere.safetensors");
    let err = ParamStore::load_safetensors(&path).expect_err("missing");
    assert!(matches!(err, ParamsError::Io { .. }));
    assert!(err.to_string().contains("nowhere.safetensors"), "{err}");
}

#[test]
fn every_truncation_of_a_valid_file_is_a_format_error() {
    let bytes = std::fs::read(fixture("torch_f32.safetensors")).expect("fixture");
    let path = Path::new("cut.safetensors");
    for len in 0..bytes.len() {
        let err = ParamStore::from_safetensors_bytes(&bytes[..len], path)
            .expect_err("a truncated file does not load");
        assert!(matches!(err, ParamsError::Format { .. }), "{len}: {err:?}");
        assert!(err.to_string().contains("cut.safetensors"));
    }
}

#[test]
fn crafted_headers_are_errors_not_panics() {
    let cases: &[&[u8]] = &[
        br#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}"#,
        br#"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#,
        br#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#,
        br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
        br#"{"w":{"dtype":"Q99","shape":[1],"data_offsets":[0,4]}}"#,
        br#"{"__metadata__":{"a":1}}"#,
        br#"[1, 2, 3]"#,
        br#"{"#,
    ];
    // Offsets that sum to 2⁶⁴ − 8 pass safetensors' per-tensor checks; adding the header
    // length to them would overflow.
    const SIZE: u64 = (1 << 61) - 1;
    let overflowing = (0..8u64)
        .map(|k| {
            let (start, end) = (k * SIZE, (k + 1) * SIZE);
            format!(r#""t{k}":{{"dtype":"U8","shape":[{SIZE}],"data_offsets":[{start},{end}]}}"#)
        })
        .collect::<Vec<_>>()
        .join(",");
    let overflowing = format!("{{{overflowing}}}");
    for header in cases.iter().copied().chain([overflowing.as_bytes()]) {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&[0; 4]);
        let result = ParamStore::from_safetensors_bytes(&bytes, Path::new("crafted"));
        assert!(result.is_err(), "{}", String::from_utf8_lossy(header));
    }
}

proptest! {
    #[test]
    fn random_bytes_are_an_error_naming_the_file(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let result = ParamStore::from_safetensors_bytes(&bytes, Path::new("random.bin"));
        let err = result.expect_err("random bytes are not a safetensors file");
        prop_assert!(err.to_string().contains("random.bin"));
    }

    #[test]
    fn random_header_lengths_never_panic(
        len in any::<u64>(),
        rest in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut bytes = len.to_le_bytes().to_vec();
        bytes.extend(rest);
        prop_assert!(ParamStore::from_safetensors_bytes(&bytes, Path::new("random")).is_err());
    }

    /// Damage anywhere in a real file: loading returns Ok or a clean error.
    #[test]
    fn corrupted_valid_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = std::fs::read(fixture("torch_f32.safetensors")).expect("fixture");
        for (index, value) in edits {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        match ParamStore::from_safetensors_bytes(&bytes, Path::new("damaged.safetensors")) {
            Ok((store, _)) => prop_assert!(store.numel() * 4 <= bytes.len()),
            Err(err) => prop_assert!(err.to_string().contains("damaged.safetensors"), "{}", err),
        }
    }
}

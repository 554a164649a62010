//! Checkpoints survive: bit-exact round trips, crashes at every point of a write (simulated
//! with partial temp files, and for real by killing a writing process), and damaged files that
//! are refused with an error naming them.

use netc::ir::Tensor;
use netc::params::{temp_path, ParamStore};
use netc::runtime::checkpoint::{
    self, checkpoint_path, restore_rng, rng_state, Checkpoint, CheckpointError,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use std::path::{Path, PathBuf};

fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("checkpoint")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// A checkpoint whose every value depends on `step`, so which one was loaded is unambiguous.
fn checkpoint_at(step: u64, width: usize) -> Checkpoint {
    let value = step as f32;
    let mut params = ParamStore::new();
    params.insert(
        "hidden1.weight",
        Tensor::new(vec![width, 2], vec![value; 2 * width]),
    );
    params.insert(
        "hidden1.bias",
        Tensor::new(vec![width], vec![-value; width]),
    );
    let mut state = ParamStore::new();
    state.insert(
        "hidden1.weight.adam_m",
        Tensor::new(vec![width, 2], vec![value / 3.0; 2 * width]),
    );
    state.insert(
        "bn.running_mean",
        Tensor::new(vec![2], vec![f32::from_bits(1), -0.0]),
    );
    Checkpoint {
        step,
        epoch: step / 10,
        params,
        state,
        meta: json!({ "data_position": step.wrapping_mul(32), "config_hash": "ab12", "losses": [0.5, 0.25] }),
    }
}

fn assert_same(a: &Checkpoint, b: &Checkpoint) {
    assert_eq!((a.step, a.epoch, &a.meta), (b.step, b.epoch, &b.meta));
    for (ours, theirs) in [(&a.params, &b.params), (&a.state, &b.state)] {
        assert_eq!(
            ours.names().collect::<Vec<_>>(),
            theirs.names().collect::<Vec<_>>()
        );
        for (name, tensor) in ours.iter() {
            let other = theirs.get(name).expect("same names");
            assert_eq!(tensor.shape, other.shape, "{name}");
            let bits = |t: &Tensor<f32>| t.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(tensor), bits(other), "{name}");
        }
    }
}

#[test]
fn round_trip_is_bit_exact() {
    let dir = scratch_dir("round_trip");
    let mut saved = checkpoint_at(u64::MAX, 3);
    saved.meta = json!({ "nested": { "list": [1, "two", null, true] }, "big": u64::MAX });
    let path = checkpoint::save(&dir, &saved).expect("save");
    assert_eq!(path, dir.join("checkpoint.safetensors"));
    assert_same(&checkpoint::load(&dir).expect("load"), &saved);
    assert!(!temp_path(&path).exists());
}

/// Metrics and schedule state (a best validation loss, a plateau counter) live in `meta` as
/// JSON floats; a resume is bit-for-bit only if every one of them reads back with its bits.
#[test]
fn floats_in_meta_round_trip_bit_exactly() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let floats: Vec<f64> = (0..20_000)
        .map(|i| match i % 3 {
            0 => rng.random::<f64>(),
            1 => f64::from(rng.random::<f32>()) * 1e-3,
            _ => f64::from_bits(rng.random::<u64>() >> 2),
        })
        .collect();
    let mut saved = checkpoint_at(9, 1);
    saved.meta = json!({ "losses": floats });
    let path = Path::new("floats/checkpoint.safetensors");
    let bytes = checkpoint::encode(&saved, path).expect("encode");
    let loaded = checkpoint::decode(&bytes, path).expect("decode");
    let read_back: Vec<f64> =
        serde_json::from_value(loaded.meta["losses"].clone()).expect("floats");
    let bits = |values: &[f64]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&read_back), bits(&floats));
}

#[test]
fn save_creates_the_run_folder() {
    let dir = scratch_dir("creates").join("runs/xor-1");
    checkpoint::save(&dir, &checkpoint_at(1, 2)).expect("save into a new folder");
    assert_same(&checkpoint::load(&dir).expect("load"), &checkpoint_at(1, 2));
}

#[test]
fn a_crash_at_any_point_of_writing_the_temp_file_keeps_the_previous_checkpoint() {
    let dir = scratch_dir("partial_temp");
    let previous = checkpoint_at(100, 4);
    let path = checkpoint::save(&dir, &previous).expect("save");
    let next = checkpoint_at(200, 4);
    let next_bytes = checkpoint::encode(&next, &path).expect("encode");
    // The process died after writing `len` bytes of the temp file (or all of them, just
    // before the rename).
    for len in (0..=next_bytes.len()).step_by(7).chain([next_bytes.len()]) {
        std::fs::write(temp_path(&path), &next_bytes[..len]).expect("partial temp");
        assert_same(&checkpoint::load(&dir).expect("previous loads"), &previous);
    }
    // The next run saves over the leftover temp file.
    checkpoint::save(&dir, &next).expect("save over a stale temp file");
    assert_same(&checkpoint::load(&dir).expect("load"), &next);
    assert!(!temp_path(&path).exists());
}

#[test]
fn a_missing_checkpoint_names_the_folder() {
    let dir = scratch_dir("missing");
    let err = checkpoint::load(&dir).expect_err("nothing saved yet");
    assert!(matches!(err, CheckpointError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_truncated_checkpoint_is_an_error_naming_the_file() {
    let dir = scratch_dir("truncated");
    let path = checkpoint::save(&dir, &checkpoint_at(5, 3)).expect("save");
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() - 5]).expect("truncate");
    let err = checkpoint::load(&dir).expect_err("truncated");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_flipped_bit_in_the_weights_is_caught_by_the_checksum() {
    let dir = scratch_dir("flipped");
    let path = checkpoint::save(&dir, &checkpoint_at(5, 3)).expect("save");
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&path, &bytes).expect("damage");
    let err = checkpoint::load(&dir).expect_err("corrupted");
    assert!(matches!(err, CheckpointError::Corrupted { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("{} is corrupted", path.display())),
        "{message}"
    );
}

#[test]
fn a_plain_parameter_file_is_not_a_checkpoint() {
    let dir = scratch_dir("plain");
    let mut store = ParamStore::new();
    store.insert("w", Tensor::new(vec![1], vec![1.0]));
    store
        .save_safetensors(&checkpoint_path(&dir), &Default::default())
        .expect("save");
    let err = checkpoint::load(&dir).expect_err("no format entry");
    assert!(matches!(err, CheckpointError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("no `format` entry"), "{err}");
}

#[test]
fn an_unprefixed_tensor_is_refused() {
    let path = Path::new("odd/checkpoint.safetensors");
    let mut tensors = ParamStore::new();
    tensors.insert("params/w", Tensor::new(vec![1], vec![1.0]));
    tensors.insert("stray", Tensor::scalar(2.0));
    let metadata = [
        ("format", checkpoint::FORMAT.to_string()),
        ("step", "1".to_string()),
        ("epoch", "0".to_string()),
        ("meta", "{}".to_string()),
        ("checksum", checkpoint::tensor_checksum(&tensors)),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .into();
    let bytes = tensors
        .to_safetensors_bytes(&metadata, path)
        .expect("encode");
    let err = checkpoint::decode(&bytes, path).expect_err("stray tensor");
    assert!(matches!(err, CheckpointError::Invalid { .. }), "{err:?}");
    assert!(err.to_string().contains("`stray`"), "{err}");
}

#[test]
fn rng_state_resumes_the_exact_sequence() {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    rng.set_stream(9);
    for _ in 0..37 {
        let _: u32 = rng.random();
    }
    let dir = scratch_dir("rng");
    let mut saved = checkpoint_at(3, 1);
    saved.meta = json!({ "rng": rng_state(&rng) });
    checkpoint::save(&dir, &saved).expect("save");
    let expected: Vec<u64> = (0..100).map(|_| rng.random()).collect();
    let loaded = checkpoint::load(&dir).expect("load");
    let mut resumed = restore_rng(&loaded.meta["rng"]).expect("restore");
    let resumed_values: Vec<u64> = (0..100).map(|_| resumed.random()).collect();
    assert_eq!(resumed_values, expected);
    assert!(restore_rng(&json!({ "seed": "zz", "stream": "1", "word_pos": "0" })).is_err());
    assert!(restore_rng(&json!({})).is_err());
}

/// The child side of `killing_a_writer_mid_save_keeps_a_loadable_checkpoint`: saves ever newer
/// checkpoints into `NETC_CHECKPOINT_CHILD_DIR` until it is killed. Does nothing otherwise.
#[test]
#[ignore = "run by killing_a_writer_mid_save_keeps_a_loadable_checkpoint as a child process"]
fn checkpoint_writer_child() {
    let Some(dir) = std::env::var_os("NETC_CHECKPOINT_CHILD_DIR") else {
        return;
    };
    for step in 1.. {
        checkpoint::save(Path::new(&dir), &checkpoint_at(step, KILL_WIDTH)).expect("child save");
    }
}

/// Large enough (10 MB a checkpoint) that a kill usually lands in the middle of a write.
const KILL_WIDTH: usize = 500_000;

#[test]
fn killing_a_writer_mid_save_keeps_a_loadable_checkpoint() {
    let dir = scratch_dir("kill");
    checkpoint::save(&dir, &checkpoint_at(0, KILL_WIDTH)).expect("first save");
    let test_binary = std::env::current_exe().expect("test binary");
    for (round, wait_ms) in [30u64, 70, 110, 160, 230].into_iter().enumerate() {
        let mut child = std::process::Command::new(&test_binary)
            .args([
                "--exact",
                "checkpoint_writer_child",
                "--ignored",
                "--nocapture",
            ])
            .env("NETC_CHECKPOINT_CHILD_DIR", &dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn the writer");
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        child.kill().expect("kill the writer");
        child.wait().expect("reap the writer");
        let loaded = checkpoint::load(&dir).unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_same(&loaded, &checkpoint_at(loaded.step, KILL_WIDTH));
    }
}

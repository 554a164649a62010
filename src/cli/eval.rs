//! `netc eval`, `netc predict` and `netc grad`: run a trained model's programs on data.

use super::args::NameArgs;
use super::common::{self, Loaded, ModelArgs, ThreadArgs};
use crate::data;
use crate::params::{ParamStore, WeightsFile};
use crate::runtime::exec::{self, Program};
use crate::runtime::train::{self, evaluate, TrainError};
use crate::step;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub threads: ThreadArgs,
    /// The trained weights (a run folder's weights.safetensors, or PyTorch's with a name map);
    /// by default those of the run folder given in place of the file.
    #[arg(long, visible_alias = "load", value_name = "W.safetensors")]
    pub weights: Option<PathBuf>,
    #[command(flatten)]
    pub names: NameArgs,
    /// Print the results as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub threads: ThreadArgs,
    /// The trained weights (a run folder's weights.safetensors, or PyTorch's with a name map);
    /// by default those of the run folder given in place of the file.
    #[arg(long, visible_alias = "load", value_name = "W.safetensors")]
    pub weights: Option<PathBuf>,
    #[command(flatten)]
    pub names: NameArgs,
    /// A CSV of features (same columns as the training data, without the target).
    #[arg(long, value_name = "X.csv")]
    pub data: PathBuf,
    /// Where to write the predictions (default: stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the predictions as JSON lines (`{"outputs": [...], "class": ...}`) instead of CSV.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct GradArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub threads: ThreadArgs,
    /// Parameters to differentiate at (default: the initializers with the file's seed).
    #[arg(long, value_name = "W.safetensors")]
    pub load: Option<PathBuf>,
    #[command(flatten)]
    pub names: NameArgs,
    /// Where to write the gradients, named like the parameters.
    #[arg(long, value_name = "G.safetensors")]
    pub out: PathBuf,
    /// Compute in f64 on the reference interpreter (whatever `--backend` says), to compare
    /// with a float64 reference; the file still stores f32.
    #[arg(long)]
    pub f64: bool,
}

pub fn run_eval(args: EvalArgs) -> ExitCode {
    let Ok(loaded) = common::load(&args.model) else {
        return ExitCode::FAILURE;
    };
    let Ok(weights) = weights_path(&loaded, args.weights.as_deref()) else {
        return ExitCode::FAILURE;
    };
    finish(eval(&loaded, &args, &weights))
}

pub fn run_predict(args: PredictArgs) -> ExitCode {
    let Ok(loaded) = common::load(&args.model) else {
        return ExitCode::FAILURE;
    };
    let Ok(weights) = weights_path(&loaded, args.weights.as_deref()) else {
        return ExitCode::FAILURE;
    };
    finish(predict(&loaded, &args, &weights))
}

/// The weights file to run; `Err` once the reason is printed.
fn weights_path(loaded: &Loaded, given: Option<&std::path::Path>) -> Result<PathBuf, ()> {
    loaded
        .weights_path(given)
        .map_err(|message| eprintln!("error: {message}"))
}

pub fn run_grad(args: GradArgs) -> ExitCode {
    let Ok(loaded) = common::load(&args.model) else {
        return ExitCode::FAILURE;
    };
    finish(grad(&loaded, &args))
}

fn finish(result: Result<(), TrainError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            common::report(e);
            ExitCode::FAILURE
        }
    }
}

/// The eval program with the given weights loaded.
fn eval_program(
    loaded: &Loaded,
    weights: &WeightsFile,
    exec: exec::ExecOptions,
) -> Result<Box<dyn Program>, TrainError> {
    let (graph, params) = step::build_eval(&loaded.model, loaded.model.train.batch);
    let store = train::load_params(weights, &params)?;
    let mut prog = exec::compile_with(&graph, exec)?;
    for (name, t) in store.iter() {
        prog.set_leaf(name, &t.data)?;
    }
    Ok(prog)
}

fn eval(loaded: &Loaded, args: &EvalArgs, weights: &std::path::Path) -> Result<(), TrainError> {
    let model = &loaded.model;
    let splits = loaded.load_data()?;
    let weights = args.names.weights(weights)?;
    let mut prog = eval_program(loaded, &weights, args.threads.exec(&args.model))?;
    // At `split = 1` nothing is held out, and the loss on the training rows is the one to
    // compare (with PyTorch's on the same file, say).
    let first = if splits.valid.is_empty() {
        ("train", Some(&splits.train))
    } else {
        ("valid", Some(&splits.valid))
    };
    let sets = [first, ("test", splits.test.as_ref())];
    let mut results = Vec::new();
    for (name, set) in sets {
        let Some(set) = set else { continue };
        let (loss, accuracy) = evaluate(prog.as_mut(), set, model.train.batch)?;
        let loss_text = super::out::metric(loss, 5);
        match accuracy {
            _ if args.json => {}
            Some(a) => println!(
                "{name}: loss {loss_text}  accuracy {:.2}%  ({} rows)",
                a * 100.0,
                set.len()
            ),
            None => println!("{name}: loss {loss_text}  ({} rows)", set.len()),
        }
        results.push(serde_json::json!({
            "set": name, "loss": loss, "accuracy": accuracy, "rows": set.len(),
        }));
    }
    if args.json {
        println!("{}", serde_json::json!({ "sets": results }));
    }
    Ok(())
}

fn predict(
    loaded: &Loaded,
    args: &PredictArgs,
    weights: &std::path::Path,
) -> Result<(), TrainError> {
    let model = &loaded.model;
    let basis = prediction_basis(loaded)?;
    // A file laid out like the training data may keep its target column: it is ignored.
    let features = data::load_features(
        &args.data,
        basis.input_width,
        basis.scaler.as_ref(),
        basis.target.as_deref(),
    )?;
    let weights = args.names.weights(weights)?;
    let mut prog = eval_program(loaded, &weights, args.threads.exec(&args.model))?;
    let batch = model.train.batch;
    let width = basis.input_width;
    let k: usize = model.output_shape.iter().product();
    let rows = features.shape[0];
    let classes = basis.classes.as_deref();
    let mut text = String::new();
    if !args.json {
        let header: Vec<String> = (0..k).map(|j| format!("output{j}")).collect();
        text.push_str(&header.join(","));
        text.push_str(if classes.is_some() { ",class\n" } else { "\n" });
    }
    let mut x = vec![0.0; batch * width];
    for start in (0..rows).step_by(batch) {
        let n = batch.min(rows - start);
        x.fill(0.0);
        x[..n * width].copy_from_slice(&features.data[start * width..(start + n) * width]);
        prog.set_leaf(crate::lower::INPUT_X, &x)?;
        prog.run()?;
        let out = prog.output(1);
        for row in out[..n * k].chunks(k) {
            let class = classes.map(|c| {
                c.get(train::predicted_class(row))
                    .map_or("?", String::as_str)
            });
            text.push_str(&prediction_line(row, class, args.json));
        }
    }
    match &args.out {
        Some(path) => std::fs::write(path, text).map_err(|source| TrainError::Io {
            path: path.clone(),
            source,
        })?,
        None => print!("{text}"),
    }
    Ok(())
}

/// What predicting needs of the training data.
struct Basis {
    input_width: usize,
    /// The target column, which a prediction file may keep (it is ignored).
    target: Option<String>,
    scaler: Option<data::Scaler>,
    classes: Option<Vec<String>>,
}

/// The run folder's record of the data when given a folder that has one (the data itself is
/// then not read), else the data loaded again (its scaling statistics come from the training
/// split, recomputed deterministically).
fn prediction_basis(loaded: &Loaded) -> Result<Basis, TrainError> {
    if let Some(record) = loaded.run.as_ref().and_then(|run| run.data.clone()) {
        return Ok(Basis {
            input_width: record.input_width,
            target: record.target,
            scaler: record.scaler,
            classes: record.classes,
        });
    }
    let splits = loaded.load_data()?;
    let target = match &loaded.model.train.data {
        crate::model::DataSource::Csv(csv) => Some(csv.target.clone()),
        crate::model::DataSource::Synthetic(_) => None,
    };
    Ok(Basis {
        input_width: splits.train.input_width(),
        target,
        scaler: splits.scaler,
        classes: splits.train.classes,
    })
}

/// One row of `netc predict`'s output: CSV cells, or a JSON object.
fn prediction_line(outputs: &[f32], class: Option<&str>, json: bool) -> String {
    if json {
        let line = match class {
            Some(class) => serde_json::json!({ "outputs": outputs, "class": class }),
            None => serde_json::json!({ "outputs": outputs }),
        };
        return format!("{line}\n");
    }
    let mut cells: Vec<String> = outputs.iter().map(|v| v.to_string()).collect();
    cells.extend(class.map(str::to_string));
    format!("{}\n", cells.join(","))
}

fn grad(loaded: &Loaded, args: &GradArgs) -> Result<(), TrainError> {
    let model = &loaded.model;
    let batch = model.train.batch;
    let splits = loaded.load_data()?;
    if splits.train.len() < batch {
        return Err(TrainError::BatchTooLarge {
            batch,
            rows: splits.train.len(),
        });
    }
    let (graph, params) = step::build_grad(model, batch);
    let store = match args
        .names
        .optional_weights(args.load.as_deref(), "--load")?
    {
        Some(weights) => train::load_params(&weights, &params)?,
        None => train::initial_params(model, &params),
    };
    // The first batch of the training split, which at `split = 1` is the file's order: no
    // shuffle, no update.
    let (width, k) = (splits.train.input_width(), splits.train.target_width());
    let mut rows = GradBatch {
        x: vec![0.0; batch * width],
        y: vec![0.0; batch * k],
        mask: vec![0.0; batch],
    };
    let first: Vec<usize> = (0..batch).collect();
    splits
        .train
        .gather(&first, &mut rows.x, &mut rows.y, &mut rows.mask);
    let (loss, values) = if args.f64 {
        run_grad_f64(&graph, &store, &rows)?
    } else {
        let exec = args.threads.exec(&args.model);
        run_grad_f32(&graph, exec, &store, &rows)?
    };
    let mut grads = ParamStore::new();
    for (out, data) in graph.outputs.iter().zip(values).skip(1) {
        let shape = graph.shape(out.value).to_vec();
        grads.insert(out.name.clone(), crate::ir::Tensor::new(shape, data));
    }
    // The batch itself goes along, so PyTorch can compute the same gradients on the same rows.
    let x_shape: Vec<usize> = std::iter::once(batch)
        .chain(model.input.kind.shape())
        .collect();
    grads.insert("input.x", crate::ir::Tensor::new(x_shape, rows.x));
    grads.insert("input.y", crate::ir::Tensor::new(vec![batch, k], rows.y));
    let mut meta = std::collections::BTreeMap::new();
    meta.insert("loss".to_owned(), loss.to_string());
    grads.save_safetensors(&args.out, &meta)?;
    println!(
        "loss {loss}  ({} gradients written to {})",
        grads.len() - 2,
        args.out.display()
    );
    Ok(())
}

/// The rows `netc grad` differentiates at.
struct GradBatch {
    x: Vec<f32>,
    y: Vec<f32>,
    mask: Vec<f32>,
}

/// The loss and every output of the gradient program, run by `exec`'s backend in f32.
fn run_grad_f32(
    graph: &crate::ir::Graph,
    exec: exec::ExecOptions,
    store: &ParamStore,
    rows: &GradBatch,
) -> Result<(f64, Vec<Vec<f32>>), TrainError> {
    let mut prog = exec::compile_with(graph, exec)?;
    for (name, t) in store.iter() {
        prog.set_leaf(name, &t.data)?;
    }
    prog.set_leaf(crate::lower::INPUT_X, &rows.x)?;
    prog.set_leaf(crate::lower::INPUT_Y, &rows.y)?;
    prog.set_leaf(crate::lower::INPUT_MASK, &rows.mask)?;
    prog.run()?;
    let values: Vec<Vec<f32>> = (0..graph.outputs.len())
        .map(|i| prog.output(i).to_vec())
        .collect();
    Ok((f64::from(prog.output(0)[0]), values))
}

/// The same, on the reference interpreter in f64 from the f32 weights and rows; the results
/// are rounded to f32 once, at the end.
fn run_grad_f64(
    graph: &crate::ir::Graph,
    store: &ParamStore,
    rows: &GradBatch,
) -> Result<(f64, Vec<Vec<f32>>), TrainError> {
    let widen = |shape: &[usize], data: &[f32]| {
        crate::ir::Tensor::new(shape.to_vec(), data.iter().map(|&v| f64::from(v)).collect())
    };
    let mut env: std::collections::HashMap<String, crate::ir::Tensor<f64>> = (store.iter())
        .map(|(name, t)| (name.to_owned(), widen(&t.shape, &t.data)))
        .collect();
    for (name, shape) in graph.inputs() {
        let tensor = match name {
            crate::lower::INPUT_X => widen(shape, &rows.x),
            crate::lower::INPUT_Y => widen(shape, &rows.y),
            crate::lower::INPUT_MASK => widen(shape, &rows.mask),
            // Inputs a gradient program reads but `netc grad` does not set (the step counter)
            // start at zero, as the backends' own leaves do.
            _ => crate::ir::Tensor::full(shape.to_vec(), 0.0),
        };
        env.insert(name.to_owned(), tensor);
    }
    let outputs =
        crate::ir::interp::run(graph, &env).map_err(|e| exec::ExecError::Run(e.to_string()))?;
    let loss = outputs.first().and_then(|t| t.data.first()).copied();
    let values = (outputs.iter())
        .map(|t| t.data.iter().map(|&v| v as f32).collect())
        .collect();
    Ok((loss.unwrap_or(f64::NAN), values))
}

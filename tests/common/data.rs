//! Loading CSV fixtures and rendering the data errors they give, as the error snapshots show them.

use std::path::Path;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme};
use netc::data::{self, DataError, Splits};
use netc::model::{CsvSource, DataSource, Loss};

/// The shuffle seed every CSV fixture is loaded with, so splits are the same in every test.
const SEED: u64 = 7;

/// Renders a data error as the user sees it, without colour and at a fixed width so that
/// snapshots are stable.
pub fn render(error: &DataError) -> String {
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, error as &dyn Diagnostic)
        .expect("rendering to a String cannot fail");
    out
}

/// Loads `source`, whose paths are relative to the `fixtures` folder.
pub fn load_csv(source: CsvSource, fixtures: &str, loss: Loss) -> Result<Splits, DataError> {
    data::load(&DataSource::Csv(source), Path::new(fixtures), SEED, loss)
}

/// Loads `source` from the `fixtures` folder and returns the rendered error it must give.
pub fn load_csv_error(source: CsvSource, fixtures: &str, loss: Loss) -> String {
    let path = source.path.clone();
    match load_csv(source, fixtures, loss) {
        Ok(splits) => panic!(
            "{path}: expected an error, got {} training rows",
            splits.train.len()
        ),
        Err(error) => render(&error),
    }
}

/// `poisoned.csv` in `dir`: 64 rows of y = x0 − x1 whose row 17 has x0 = 3e38 (finite in f32,
/// but its square overflows), so exactly one batch an epoch has a non-finite gradient norm.
pub fn write_poisoned_csv(dir: &Path) {
    let mut csv = String::from("x0,x1,y\n");
    for i in 0..64 {
        let (a, b) = ((i % 8) as f32 / 8.0, (i / 8) as f32 / 8.0);
        let a = if i == 17 { 3e38 } else { a };
        let y = if i == 17 { 0.0 } else { a - b };
        csv.push_str(&format!("{a},{b},{y}\n"));
    }
    std::fs::write(dir.join("poisoned.csv"), csv).expect("the CSV is written");
}

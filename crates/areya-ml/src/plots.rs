//! The notebook's figures, drawn with plotters as PNG or SVG (chosen by the file extension):
//! training curves, confusion heatmaps, reliability diagrams, an image beside its class
//! probabilities, a gallery of confident mistakes, and feature-map grids (viridis).
//!
//! Text uses DejaVu Sans embedded in the binary, so plots look the same on machines without
//! system fonts.

use crate::callbacks::EpochLogs;
use crate::error::{MlError, Result};
use crate::metrics::{Calibration, Report};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::Once;

const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (style, bytes) in [
            (FontStyle::Normal, dejavu::sans::regular()),
            (FontStyle::Bold, dejavu::sans::bold()),
        ] {
            // The embedded font is a valid TTF; if registration failed, text would be missing,
            // which the plot tests would catch.
            let _ = plotters::style::register_font(FONT, style, bytes);
        }
    });
}

/// Something that can draw itself on any plotters backend.
pub trait Plot {
    /// Pixel size of the figure.
    fn size(&self) -> (u32, u32);
    /// Draws the figure on `area`, which is already white.
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String>;
}

/// Saves `plot` to `path`: `.svg` as SVG, anything else as PNG.
pub fn save(plot: &impl Plot, path: &Path) -> Result<()> {
    register_font();
    let is_svg = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    if is_svg {
        render(plot, SVGBackend::new(path, plot.size()).into_drawing_area())
    } else {
        render(
            plot,
            BitMapBackend::new(path, plot.size()).into_drawing_area(),
        )
    }
    .map_err(|e| MlError::run_dir(path, format!("cannot draw plot: {e}")))
}

fn render<DB: DrawingBackend>(
    plot: &impl Plot,
    area: DrawingArea<DB, Shift>,
) -> std::result::Result<(), String> {
    area.fill(&WHITE).map_err(s)?;
    plot.draw(&area)?;
    area.present().map_err(s)
}

/// `area` under a bold title of `size` points.
fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    size: u32,
) -> std::result::Result<DrawingArea<DB, Shift>, String> {
    area.titled(title, (FONT, size).into_font().style(FontStyle::Bold))
        .map_err(s)
}

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VAL: RGBColor = RGBColor(255, 127, 14);

/// Accuracy and loss against epoch, train vs val (from `metrics.csv`).
pub struct Curves<'a> {
    pub history: &'a [EpochLogs],
    pub title: String,
}

impl Plot for Curves<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 480)
    }
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let area = titled(area, &self.title, 22)?;
        let (left, right) = area.split_horizontally(600);
        let h = self.history;
        let n = h.len().max(1) as f64;
        type Get = fn(&EpochLogs) -> f64;
        let panels: [(&DrawingArea<DB, Shift>, &str, Get, Get); 2] = [
            (&left, "accuracy", |l| l.accuracy, |l| l.val_accuracy),
            (&right, "loss", |l| l.loss, |l| l.val_loss),
        ];
        for (panel, name, tr, va) in panels {
            let vals: Vec<f64> = h
                .iter()
                .flat_map(|l| [tr(l), va(l)])
                .filter(|v| v.is_finite())
                .collect();
            let lo =
                vals.iter()
                    .cloned()
                    .fold(f64::INFINITY, f64::min)
                    .min(if name == "accuracy" {
                        0.0
                    } else {
                        f64::INFINITY
                    });
            let hi = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let (lo, hi) = if lo.is_finite() && hi.is_finite() && hi > lo {
                let pad = 0.05 * (hi - lo);
                (if name == "accuracy" { lo } else { lo - pad }, hi + pad)
            } else {
                (0.0, 1.0)
            };
            let mut chart = ChartBuilder::on(panel)
                .margin(15)
                .caption(format!("{name} by epoch"), (FONT, 18))
                .x_label_area_size(40)
                .y_label_area_size(55)
                .build_cartesian_2d(0.5f64..n + 0.5, lo..hi)
                .map_err(s)?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc(name)
                .x_labels(h.len().clamp(2, 12))
                // Whole epochs only.
                .x_label_formatter(&|x| {
                    if (x - x.round()).abs() < 1e-6 {
                        format!("{x:.0}")
                    } else {
                        String::new()
                    }
                })
                .label_style((FONT, 13))
                .draw()
                .map_err(s)?;
            for (label, get, color) in [("train", tr, TRAIN), ("val", va, VAL)] {
                let pts: Vec<(f64, f64)> = h
                    .iter()
                    .map(|l| (l.epoch as f64, get(l)))
                    .filter(|p| p.1.is_finite())
                    .collect();
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                    .map_err(s)?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(s)?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font((FONT, 14))
                .draw()
                .map_err(s)?;
        }
        Ok(())
    }
}

/// Blue of a heatmap cell for `v` in [0, 1].
fn blues(v: f64) -> RGBColor {
    let v = v.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64| (a + (b - a) * v).round() as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

/// Confusion matrix heatmap: rows true, columns predicted; colour is the row share.
pub struct Confusion<'a> {
    pub report: &'a Report,
    /// Show row percentages instead of counts.
    pub normalized: bool,
    pub title: String,
}

impl Plot for Confusion<'_> {
    fn size(&self) -> (u32, u32) {
        (720, 640)
    }
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let r = self.report;
        let k = r.classes.len();
        let names = &r.classes;
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .caption(&self.title, (FONT, 20).into_font().style(FontStyle::Bold))
            .x_label_area_size(50)
            .y_label_area_size(90)
            // A segmented range covers both ends: `0..k-1` is k segments.
            .build_cartesian_2d((0..k - 1).into_segmented(), (0..k - 1).into_segmented())
            .map_err(s)?;
        let label = |v: &SegmentValue<usize>, flip: bool| match v {
            SegmentValue::CenterOf(i) if *i < k => names[if flip { k - 1 - i } else { *i }].clone(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted")
            .y_desc("true")
            .x_label_formatter(&|v| label(v, false))
            .y_label_formatter(&|v| label(v, true))
            .label_style((FONT, 15))
            .draw()
            .map_err(s)?;
        for (i, row) in r.confusion.iter().enumerate() {
            let total: usize = row.iter().sum();
            for (j, &c) in row.iter().enumerate() {
                let share = if total > 0 {
                    c as f64 / total as f64
                } else {
                    0.0
                };
                let y = k - 1 - i;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [
                            (SegmentValue::Exact(j), SegmentValue::Exact(y)),
                            (SegmentValue::Exact(j + 1), SegmentValue::Exact(y + 1)),
                        ],
                        blues(share).filled(),
                    )))
                    .map_err(s)?;
                let text = if self.normalized {
                    format!("{:.1}%", share * 100.0)
                } else {
                    c.to_string()
                };
                let color = if share > 0.55 { WHITE } else { BLACK };
                let style = TextStyle::from((FONT, 20).into_font())
                    .color(&color)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                chart
                    .draw_series(std::iter::once(Text::new(
                        text,
                        (SegmentValue::CenterOf(j), SegmentValue::CenterOf(y)),
                        style,
                    )))
                    .map_err(s)?;
            }
        }
        Ok(())
    }
}

/// Reliability diagram: accuracy per confidence bin against the diagonal, with the ECE.
pub struct Reliability<'a> {
    pub calibration: &'a Calibration,
    pub title: String,
}

impl Plot for Reliability<'_> {
    fn size(&self) -> (u32, u32) {
        (640, 600)
    }
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let c = self.calibration;
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .caption(
                format!("{} (ECE {:.3})", self.title, c.ece),
                (FONT, 20).into_font().style(FontStyle::Bold),
            )
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(s)?;
        chart
            .configure_mesh()
            .x_desc("confidence")
            .y_desc("accuracy")
            .label_style((FONT, 14))
            .draw()
            .map_err(s)?;
        let nb = c.bins.len().max(1) as f64;
        chart
            .draw_series(
                c.bins
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.2 > 0)
                    .map(|(i, b)| {
                        Rectangle::new(
                            [
                                (i as f64 / nb + 0.005, 0.0),
                                ((i + 1) as f64 / nb - 0.005, b.1),
                            ],
                            TRAIN.mix(0.8).filled(),
                        )
                    }),
            )
            .map_err(s)?
            .label("accuracy in bin")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], TRAIN.filled()));
        chart
            .draw_series(LineSeries::new(
                vec![(0.0, 0.0), (1.0, 1.0)],
                BLACK.stroke_width(1),
            ))
            .map_err(s)?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .border_style(BLACK)
            .label_font((FONT, 14))
            .draw()
            .map_err(s)?;
        Ok(())
    }
}

/// Draws a grayscale image scaled into `area`.
fn draw_gray<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    px: &[u8],
    size: u32,
) -> std::result::Result<(), String> {
    let (w, h) = area.dim_in_pixel();
    let scale = (w.min(h) / size.max(1)).max(1) as i32;
    let (ox, oy) = (
        (w as i32 - scale * size as i32) / 2,
        (h as i32 - scale * size as i32) / 2,
    );
    for y in 0..size as i32 {
        for x in 0..size as i32 {
            let v = px[(y * size as i32 + x) as usize];
            let (x0, y0) = (ox + x * scale, oy + y * scale);
            area.draw(&Rectangle::new(
                [(x0, y0), (x0 + scale, y0 + scale)],
                RGBColor(v, v, v).filled(),
            ))
            .map_err(s)?;
        }
    }
    Ok(())
}

/// The face beside its per-class probability bars (the notebook's `plot_predicted_img`).
pub struct PredictionBars<'a> {
    pub pixels: &'a [u8],
    pub size: u32,
    pub classes: &'a [String],
    pub probs: &'a [f32],
    pub title: String,
}

impl Plot for PredictionBars<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 400)
    }
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let area = titled(area, &self.title, 20)?;
        let (left, right) = area.split_horizontally(380);
        draw_gray(&left.margin(10, 10, 10, 10), self.pixels, self.size)?;
        let k = self.classes.len();
        let best = self
            .probs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let mut chart = ChartBuilder::on(&right)
            .margin(20)
            .x_label_area_size(35)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..1f64, (0..k - 1).into_segmented())
            .map_err(s)?;
        let names = self.classes;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("probability")
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if *i < k => names[k - 1 - i].clone(),
                _ => String::new(),
            })
            .label_style((FONT, 15))
            .draw()
            .map_err(s)?;
        for (i, &p) in self.probs.iter().enumerate() {
            let y = k - 1 - i;
            let color = if i == best { VAL } else { TRAIN };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(y)),
                        (p as f64, SegmentValue::Exact(y + 1)),
                    ],
                    color.filled(),
                )))
                .map_err(s)?;
            let style =
                TextStyle::from((FONT, 15).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
            chart
                .draw_series(std::iter::once(Text::new(
                    format!(" {:.1}%", p * 100.0),
                    ((p as f64).min(0.82), SegmentValue::CenterOf(y)),
                    style,
                )))
                .map_err(s)?;
        }
        Ok(())
    }
}

/// One tile of a [`Gallery`].
pub struct Tile {
    pub pixels: Vec<u8>,
    pub size: u32,
    pub caption: String,
}

/// A grid of captioned faces (e.g. the most confident mistakes).
pub struct Gallery {
    pub tiles: Vec<Tile>,
    pub columns: usize,
    pub title: String,
}

impl Plot for Gallery {
    fn size(&self) -> (u32, u32) {
        let rows = self.tiles.len().div_ceil(self.columns.max(1)).max(1);
        (self.columns.max(1) as u32 * 170, rows as u32 * 200 + 40)
    }
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let area = titled(area, &self.title, 20)?;
        let rows = self.tiles.len().div_ceil(self.columns.max(1)).max(1);
        for (cell, tile) in area
            .split_evenly((rows, self.columns.max(1)))
            .iter()
            .zip(&self.tiles)
        {
            let (img, text) = cell.split_vertically(160);
            draw_gray(&img.margin(5, 5, 5, 5), &tile.pixels, tile.size)?;
            for (i, line) in tile.caption.lines().enumerate() {
                text.draw(&Text::new(
                    line.to_string(),
                    (6, 2 + 16 * i as i32),
                    (FONT, 13),
                ))
                .map_err(s)?;
            }
        }
        Ok(())
    }
}

/// Feature maps of one layer: each channel as a viridis tile, normalised per channel.
pub struct FeatureMaps {
    /// `[channels][h * w]`.
    pub maps: Vec<Vec<f32>>,
    pub height: usize,
    pub width: usize,
    pub title: String,
}

impl FeatureMaps {
    fn columns(&self) -> usize {
        (self.maps.len() as f64).sqrt().ceil().max(1.0) as usize
    }
}

impl Plot for FeatureMaps {
    fn size(&self) -> (u32, u32) {
        let cols = self.columns();
        let rows = self.maps.len().div_ceil(cols).max(1);
        let tile = (600 / cols).clamp(24, 120) as u32;
        (cols as u32 * tile, rows as u32 * tile + 40)
    }
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let area = titled(area, &self.title, 18)?;
        let cols = self.columns();
        let rows = self.maps.len().div_ceil(cols).max(1);
        let map = ViridisRGB;
        for (cell, m) in area.split_evenly((rows, cols)).iter().zip(&self.maps) {
            let (lo, hi) = m
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            let span = if hi > lo { hi - lo } else { 1.0 };
            let (w, h) = cell.dim_in_pixel();
            let sx = w as f64 / self.width.max(1) as f64;
            let sy = h as f64 / self.height.max(1) as f64;
            for y in 0..self.height {
                for x in 0..self.width {
                    let v = (m[y * self.width + x] - lo) / span;
                    let c = map.get_color(v);
                    let (x0, y0) = ((x as f64 * sx) as i32, (y as f64 * sy) as i32);
                    let (x1, y1) = (((x + 1) as f64 * sx) as i32, ((y + 1) as f64 * sy) as i32);
                    cell.draw(&Rectangle::new(
                        [(x0, y0), (x1.max(x0 + 1), y1.max(y0 + 1))],
                        c.filled(),
                    ))
                    .map_err(s)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{calibration, confusion, Report};

    fn history() -> Vec<EpochLogs> {
        (1..=6)
            .map(|e| {
                let e64 = e as f64;
                EpochLogs {
                    epoch: e,
                    loss: 1.4 / e64.sqrt(),
                    accuracy: 0.4 + 0.05 * e64,
                    val_loss: 1.3 / e64.powf(0.3),
                    val_accuracy: 0.45 + 0.03 * e64,
                    lr: 1e-3,
                    seconds: 1.0,
                }
            })
            .collect()
    }

    fn check_png(path: &Path, size: (u32, u32)) {
        let img = image::open(path).unwrap();
        assert_eq!((img.width(), img.height()), size, "{}", path.display());
        // Not blank: more than a handful of distinct colours.
        let mut colours: Vec<[u8; 4]> = img.to_rgba8().pixels().map(|p| p.0).collect();
        colours.sort();
        colours.dedup();
        assert!(colours.len() > 8, "{} looks blank", path.display());
    }

    #[test]
    fn every_plot_renders_as_png_and_svg_of_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let classes: Vec<String> = ["angry", "happy", "relaxed", "sad"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let report = Report::from_confusion(
            &classes,
            confusion(&[0, 0, 1, 1, 2, 3, 3, 3], &[0, 1, 1, 1, 2, 3, 0, 2], 4),
        );
        let cal = calibration(
            &[0.3, 0.5, 0.9, 0.95, 0.7],
            &[false, true, true, true, false],
            10,
        );
        let face: Vec<u8> = (0..48 * 48).map(|i| (i % 48 * 5) as u8).collect();
        let h = history();
        let probs = [0.1f32, 0.6, 0.2, 0.1];
        let out = |n: &str| dir.path().join(n);
        let curves = Curves {
            history: &h,
            title: "Training".into(),
        };
        let conf = Confusion {
            report: &report,
            normalized: true,
            title: "Confusion".into(),
        };
        let rel = Reliability {
            calibration: &cal,
            title: "Reliability".into(),
        };
        let bars = PredictionBars {
            pixels: &face,
            size: 48,
            classes: &classes,
            probs: &probs,
            title: "happy 60%".into(),
        };
        let gallery = Gallery {
            tiles: (0..5)
                .map(|i| Tile {
                    pixels: face.clone(),
                    size: 48,
                    caption: format!("true sad\npred angry {i}0%"),
                })
                .collect(),
            columns: 3,
            title: "Most confident mistakes".into(),
        };
        let fmaps = FeatureMaps {
            maps: (0..8)
                .map(|c| (0..24 * 24).map(|i| ((i * (c + 1)) % 97) as f32).collect())
                .collect(),
            height: 24,
            width: 24,
            title: "block1_conv1".into(),
        };
        save(&curves, &out("curves.png")).unwrap();
        check_png(&out("curves.png"), curves.size());
        save(&conf, &out("confusion.png")).unwrap();
        check_png(&out("confusion.png"), conf.size());
        save(&rel, &out("reliability.png")).unwrap();
        check_png(&out("reliability.png"), rel.size());
        save(&bars, &out("bars.png")).unwrap();
        check_png(&out("bars.png"), bars.size());
        save(&gallery, &out("gallery.png")).unwrap();
        check_png(&out("gallery.png"), gallery.size());
        save(&fmaps, &out("fmaps.png")).unwrap();
        check_png(&out("fmaps.png"), fmaps.size());
        save(&curves, &out("curves.svg")).unwrap();
        let svg = std::fs::read_to_string(out("curves.svg")).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("accuracy by epoch") && svg.contains("val")
        );
        assert!(save(&curves, &dir.path().join("no/such/dir/x.png")).is_err());
        if let Ok(keep) = std::env::var("AREYA_KEEP_PLOTS") {
            for f in [
                "curves.png",
                "confusion.png",
                "reliability.png",
                "bars.png",
                "gallery.png",
                "fmaps.png",
            ] {
                std::fs::copy(out(f), Path::new(&keep).join(f)).unwrap();
            }
        }
    }
}

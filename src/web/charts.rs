//! Charts drawn on the server as inline SVG (no script, no inline style: the CSP allows neither).
//! Colours come from CSS classes on the shapes; every chart has a `<title>` and an `aria-label`,
//! and the page writes a legend with text labels and a table of the same numbers beside it.

use std::fmt::Write as _;

use chrono::NaiveDate;

use super::format::Count;

/// Drawing area, in SVG user units (the SVG scales to its container's width).
const W: f64 = 720.0;
const H: f64 = 240.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;
/// How many x labels at most, first and last included.
const X_LABELS: usize = 6;

/// One named series: its values per point, its CSS class (its colour) and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub class: &'static str,
    pub label: String,
    pub values: Vec<f64>,
}

/// A chart ready for a template: the SVG markup and its legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub svg: String,
    pub legend: Vec<LegendItem>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LegendItem {
    pub class: &'static str,
    pub label: String,
}

/// The y axis: its top and the step between ticks, both "nice" (1, 2 or 5 times a power of
/// ten), with at least `min_step` between ticks (1 for counts, so no tick reads 0.5 findings).
pub fn nice_scale(max: f64, min_step: f64) -> (f64, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        0.0
    };
    if max == 0.0 {
        return (min_step.max(f64::MIN_POSITIVE) * 4.0, min_step);
    }
    let rough = max / 4.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude)
        .max(min_step);
    ((max / step).ceil() * step, step)
}

/// Bottoms and tops of stacked layers: `out[i][j]` is (bottom, top) of layer `i` at point `j`.
/// Negative values count as zero (an area cannot be negative).
pub fn stack(layers: &[Series]) -> Vec<Vec<(f64, f64)>> {
    let n = layers.iter().map(|l| l.values.len()).max().unwrap_or(0);
    let mut base = vec![0.0; n];
    layers
        .iter()
        .map(|l| {
            (0..n)
                .map(|j| {
                    let v = l.values.get(j).copied().unwrap_or(0.0).max(0.0);
                    let b = base[j];
                    base[j] += v;
                    (b, b + v)
                })
                .collect()
        })
        .collect()
}

/// Where each date sits on the x axis, in proportion to time (a missing date is a gap); a
/// single date sits in the middle.
pub fn date_xs(dates: &[NaiveDate]) -> Vec<f64> {
    let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
        return Vec::new();
    };
    let span = (*last - *first).num_days() as f64;
    dates
        .iter()
        .map(|d| {
            if span <= 0.0 {
                LEFT + plot_w() / 2.0
            } else {
                LEFT + plot_w() * (*d - *first).num_days() as f64 / span
            }
        })
        .collect()
}

fn plot_w() -> f64 {
    W - LEFT - RIGHT
}

fn plot_h() -> f64 {
    H - TOP - BOTTOM
}

/// The y coordinate of `v` on an axis from 0 to `top`.
fn y_of(v: f64, top: f64) -> f64 {
    TOP + plot_h() * (1.0 - (v / top).clamp(0.0, 1.0))
}

/// Text for SVG content and attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// How an axis or a tooltip writes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Whole findings: `1,234`.
    Count,
    /// A share: `12.5%`.
    Percent,
}

impl Unit {
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Count => Count(v.round() as i64).to_string(),
            Unit::Percent if v.fract().abs() < 1e-9 => format!("{v:.0}%"),
            Unit::Percent => format!("{v:.1}%"),
        }
    }

    /// An axis label, which has `LEFT` points: a million and more as `1.5M`, so that an
    /// organisation's 1,225,985 open findings do not lose their first digits.
    fn tick(self, v: f64) -> String {
        match self {
            Unit::Count if v.abs() >= 1_000_000.0 => {
                let m = format!("{:.1}", v / 1_000_000.0);
                format!("{}M", m.trim_end_matches(".0"))
            }
            _ => self.format(v),
        }
    }

    fn min_step(self) -> f64 {
        match self {
            Unit::Count => 1.0,
            Unit::Percent => 0.1,
        }
    }
}

/// A date on the axis: `3 Nov`, with the year on the first and last label.
fn date_label(d: NaiveDate, with_year: bool) -> String {
    if with_year {
        d.format("%-d %b %Y").to_string()
    } else {
        d.format("%-d %b").to_string()
    }
}

/// Which points get an x label: at most `X_LABELS`, evenly spread, first and last included.
pub fn label_indices(n: usize) -> Vec<usize> {
    match n {
        0 => Vec::new(),
        1 => vec![0],
        n if n <= X_LABELS => (0..n).collect(),
        n => {
            let mut out: Vec<usize> = (0..X_LABELS)
                .map(|k| (k * (n - 1) + (X_LABELS - 1) / 2) / (X_LABELS - 1))
                .collect();
            out.dedup();
            out
        }
    }
}

/// The opening tag, title, grid lines and y axis labels every chart shares.
fn frame(out: &mut String, kind: &str, label: &str, top: f64, step: f64, unit: Unit) {
    let label = escape(label);
    let _ = write!(
        out,
        r#"<svg class="chart {kind}" viewBox="0 0 {W} {H}" role="img" aria-label="{label}" preserveAspectRatio="xMinYMin meet"><title>{label}</title>"#
    );
    out.push_str(r#"<g class="grid">"#);
    let ticks = (top / step).round() as usize;
    for k in 0..=ticks {
        let v = step * k as f64;
        let y = y_of(v, top);
        let _ = write!(
            out,
            r#"<line x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/><text class="ytick" x="{tx}" y="{ty:.1}" text-anchor="end">{t}</text>"#,
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 4.0,
            t = escape(&unit.tick(v)),
        );
    }
    out.push_str("</g>");
}

/// X labels under the given positions.
fn x_labels(out: &mut String, dates: &[NaiveDate], xs: &[f64]) {
    let idx = label_indices(dates.len());
    let last = idx.last().copied();
    out.push_str(r#"<g class="xaxis">"#);
    for (k, &i) in idx.iter().enumerate() {
        let anchor = if idx.len() == 1 {
            "middle"
        } else if k == 0 {
            "start"
        } else if Some(i) == last {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            out,
            r#"<text x="{x:.1}" y="{y}" text-anchor="{anchor}">{t}</text>"#,
            x = xs[i],
            y = H - 8.0,
            t = escape(&date_label(dates[i], k == 0 || Some(i) == last)),
        );
    }
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" x2="{x2}" y1="{y:.1}" y2="{y:.1}"/></g>"#,
        x2 = W - RIGHT,
        y = TOP + plot_h()
    );
}

fn legend(series: &[Series]) -> Vec<LegendItem> {
    series
        .iter()
        .map(|s| LegendItem {
            class: s.class,
            label: s.label.clone(),
        })
        .collect()
}

/// Layers stacked over time (the first layer at the bottom), as areas; a single date is drawn
/// as one stacked bar, since an area needs two points.
pub fn stacked_area(label: &str, dates: &[NaiveDate], layers: &[Series], unit: Unit) -> Chart {
    let stacked = stack(layers);
    let max = stacked
        .last()
        .map(|l| l.iter().map(|(_, t)| *t).fold(0.0, f64::max))
        .unwrap_or(0.0);
    let (top, step) = nice_scale(max, unit.min_step());
    let xs = date_xs(dates);
    let mut svg = String::new();
    frame(&mut svg, "area", label, top, step, unit);
    for (layer, points) in layers.iter().zip(&stacked) {
        let _ = write!(svg, r#"<g class="series {}">"#, layer.class);
        if dates.len() == 1 {
            let (b, t) = points[0];
            let bar = plot_w() / 8.0;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}"><title>{tip}</title></rect>"#,
                x = xs[0] - bar / 2.0,
                y = y_of(t, top),
                h = y_of(b, top) - y_of(t, top),
                tip = escape(&format!(
                    "{}: {} on {}",
                    layer.label,
                    unit.format(t - b),
                    dates[0]
                )),
            );
        } else if !dates.is_empty() {
            let upper = xs.iter().zip(points).map(|(x, (_, t))| (*x, y_of(*t, top)));
            let lower = xs
                .iter()
                .zip(points)
                .rev()
                .map(|(x, (b, _))| (*x, y_of(*b, top)));
            let pts: Vec<String> = upper
                .chain(lower)
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = write!(
                svg,
                r#"<polygon points="{}"><title>{}</title></polygon>"#,
                pts.join(" "),
                escape(&layer.label)
            );
        }
        svg.push_str("</g>");
    }
    x_labels(&mut svg, dates, &xs);
    svg.push_str("</svg>");
    Chart {
        svg,
        legend: legend(layers),
    }
}

/// Series side by side per date (new beside resolved), each bar with its value as a tooltip.
pub fn grouped_bars(label: &str, dates: &[NaiveDate], series: &[Series], unit: Unit) -> Chart {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0, f64::max);
    let (top, step) = nice_scale(max, unit.min_step());
    let n = dates.len().max(1);
    let slot = plot_w() / n as f64;
    let group = slot * 0.8;
    let bar = group / series.len().max(1) as f64;
    let xs: Vec<f64> = (0..dates.len())
        .map(|i| LEFT + slot * (i as f64 + 0.5))
        .collect();
    let mut svg = String::new();
    frame(&mut svg, "bars", label, top, step, unit);
    for (k, s) in series.iter().enumerate() {
        let _ = write!(svg, r#"<g class="series {}">"#, s.class);
        for (i, d) in dates.iter().enumerate() {
            let v = s.values.get(i).copied().unwrap_or(0.0).max(0.0);
            let y = y_of(v, top);
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}"><title>{tip}</title></rect>"#,
                x = xs[i] - group / 2.0 + bar * k as f64,
                w = bar,
                h = TOP + plot_h() - y,
                tip = escape(&format!("{}: {} ({d})", s.label, unit.format(v))),
            );
        }
        svg.push_str("</g>");
    }
    x_labels(&mut svg, dates, &xs);
    svg.push_str("</svg>");
    Chart {
        svg,
        legend: legend(series),
    }
}

/// One series as a line over time, each point marked with its value as a tooltip.
pub fn line(label: &str, dates: &[NaiveDate], series: &Series, unit: Unit) -> Chart {
    let max = series.values.iter().copied().fold(0.0, f64::max);
    let (top, step) = nice_scale(max, unit.min_step());
    let xs = date_xs(dates);
    let mut svg = String::new();
    frame(&mut svg, "line", label, top, step, unit);
    let pts: Vec<(f64, f64, f64)> = xs
        .iter()
        .zip(&series.values)
        .map(|(x, v)| (*x, y_of(*v, top), *v))
        .collect();
    let _ = write!(svg, r#"<g class="series {}">"#, series.class);
    if pts.len() > 1 {
        let line: Vec<String> = pts
            .iter()
            .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = write!(svg, r#"<polyline points="{}"/>"#, line.join(" "));
    }
    // Markers only where they stay readable; the last point always, as "now".
    let every = pts.len() <= 62;
    for (i, (x, y, v)) in pts.iter().enumerate() {
        if every || i + 1 == pts.len() {
            let _ = write!(
                svg,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3"><title>{}</title></circle>"#,
                escape(&format!(
                    "{}: {} on {}",
                    series.label,
                    unit.format(*v),
                    dates[i]
                ))
            );
        }
    }
    svg.push_str("</g>");
    x_labels(&mut svg, dates, &xs);
    svg.push_str("</svg>");
    Chart {
        svg,
        legend: legend(std::slice::from_ref(series)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn series(class: &'static str, values: &[f64]) -> Series {
        Series {
            class,
            label: class.to_owned(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn scales_are_nice() {
        assert_eq!(nice_scale(0.0, 1.0), (4.0, 1.0));
        assert_eq!(nice_scale(3.0, 1.0), (3.0, 1.0));
        assert_eq!(nice_scale(17.0, 1.0), (20.0, 5.0));
        assert_eq!(nice_scale(100.0, 1.0), (100.0, 50.0));
        assert_eq!(nice_scale(1234.0, 1.0), (1500.0, 500.0));
        let (top, step) = nice_scale(0.3, 0.1);
        assert!((top - 0.3).abs() < 1e-9 && (step - 0.1).abs() < 1e-9);
        assert_eq!(nice_scale(f64::NAN, 1.0), (4.0, 1.0));
    }

    #[test]
    fn layers_stack_from_the_bottom() {
        let s = stack(&[
            series("critical", &[1.0, 2.0]),
            series("high", &[3.0, -1.0]),
        ]);
        assert_eq!(s[0], [(0.0, 1.0), (0.0, 2.0)]);
        assert_eq!(s[1], [(1.0, 4.0), (2.0, 2.0)]);
        assert!(stack(&[]).is_empty());
    }

    #[test]
    fn dates_are_placed_in_proportion_to_time() {
        let xs = date_xs(&[day(1), day(2), day(5)]);
        assert_eq!(xs[0], LEFT);
        assert_eq!(xs[2], W - RIGHT);
        assert!((xs[1] - (LEFT + plot_w() / 4.0)).abs() < 1e-9);
        assert_eq!(date_xs(&[day(1)]), [LEFT + plot_w() / 2.0]);
        assert!(date_xs(&[]).is_empty());
    }

    #[test]
    fn x_labels_include_both_ends() {
        assert_eq!(label_indices(0), Vec::<usize>::new());
        assert_eq!(label_indices(3), [0, 1, 2]);
        let l = label_indices(30);
        assert_eq!((l[0], *l.last().unwrap(), l.len()), (0, 29, 6));
    }

    #[test]
    fn stacked_area_draws_each_layer_with_its_class_and_label() {
        let c = stacked_area(
            "Open <findings>",
            &[day(1), day(2)],
            &[series("critical", &[1.0, 2.0]), series("high", &[1.0, 2.0])],
            Unit::Count,
        );
        assert!(c.svg.starts_with(r#"<svg class="chart area""#));
        assert!(c.svg.contains(r#"aria-label="Open &lt;findings&gt;""#));
        assert!(c.svg.contains("<title>Open &lt;findings&gt;</title>"));
        assert_eq!(c.svg.matches("<polygon").count(), 2);
        assert!(c.svg.contains(r#"<g class="series high">"#));
        // The top of the stack is 4, the axis's top: the high layer's upper edge touches it.
        assert!(c.svg.contains(&format!("{:.1},{TOP:.1}", W - RIGHT)));
        assert_eq!(c.legend[1].label, "high");
    }

    #[test]
    fn a_single_point_is_a_bar_and_no_point_is_an_empty_frame() {
        let c = stacked_area("x", &[day(3)], &[series("low", &[5.0])], Unit::Count);
        assert!(c.svg.contains("<rect") && !c.svg.contains("<polygon"));
        assert!(c.svg.contains("low: 5 on 2026-11-03"));
        let empty = stacked_area("x", &[], &[series("low", &[])], Unit::Count);
        assert!(!empty.svg.contains("<rect") && empty.svg.ends_with("</svg>"));
        let one = line("x", &[day(3)], &series("share", &[12.5]), Unit::Percent);
        assert!(!one.svg.contains("<polyline") && one.svg.contains("share: 12.5% on 2026-11-03"));
    }

    #[test]
    fn grouped_bars_sit_side_by_side() {
        let c = grouped_bars(
            "flow",
            &[day(1), day(8)],
            &[series("new", &[4.0, 0.0]), series("resolved", &[2.0, 1.0])],
            Unit::Count,
        );
        assert_eq!(c.svg.matches("<rect").count(), 4);
        assert!(c.svg.contains("new: 4 (2026-11-01)"));
        assert!(c.svg.contains("resolved: 1 (2026-11-08)"));
    }

    #[test]
    fn units_format_ticks() {
        assert_eq!(Unit::Count.format(1500.0), "1,500");
        assert_eq!(Unit::Count.tick(500_000.0), "500,000");
        assert_eq!(Unit::Count.tick(1_000_000.0), "1M");
        assert_eq!(Unit::Count.tick(1_500_000.0), "1.5M");
        assert_eq!(Unit::Count.tick(12_000_000.0), "12M");
        assert_eq!(Unit::Percent.format(20.0), "20%");
        assert_eq!(Unit::Percent.format(12.5), "12.5%");
    }
}

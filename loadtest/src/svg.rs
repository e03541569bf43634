//! `--svg FILE`: the delivery latency distribution as a self-contained SVG (log-scale
//! histogram of every delivery, command sent → viewer received, with p50/p99/max marked).

use crate::stats::histogram;

const W: f64 = 720.0;
const H: f64 = 300.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 48.0;
/// Histogram bins per decade of latency.
const BINS_PER_DECADE: f64 = 12.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn label_us(us: f64) -> String {
    if us >= 1000.0 {
        format!("{} ms", (us / 1000.0 * 100.0).round() / 100.0)
    } else {
        format!("{} µs", us.round())
    }
}

/// The SVG document for `samples_us` (any order) under `title`.
pub fn latency_svg(samples_us: &[u64], title: &str) -> String {
    let mut sorted: Vec<u64> = samples_us.iter().map(|&v| v.max(1)).collect();
    sorted.sort_unstable();
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{LEFT}\" y=\"20\" font-size=\"14\">{}</text>\n",
        esc(title)
    );
    let (Some(&lo), Some(&hi)) = (sorted.first(), sorted.last()) else {
        out.push_str("<text x=\"56\" y=\"150\">no deliveries</text>\n</svg>\n");
        return out;
    };
    let min_dec = (lo as f64).log10().floor();
    let max_dec = ((hi as f64).log10().ceil()).max(min_dec + 1.0);
    let bins = ((max_dec - min_dec) * BINS_PER_DECADE) as usize;
    let mut counts = vec![0u64; bins];
    for &v in &sorted {
        let b = (((v as f64).log10() - min_dec) * BINS_PER_DECADE) as usize;
        counts[b.min(bins - 1)] += 1;
    }
    let peak = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x_of = |us: f64| LEFT + (us.log10() - min_dec) / (max_dec - min_dec) * pw;
    let bw = pw / bins as f64;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let h = c as f64 / peak * ph;
        out.push_str(&format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#4a7bd0\"><title>{c}</title></rect>\n",
            LEFT + i as f64 * bw,
            TOP + ph - h,
            (bw - 1.0).max(0.5),
            h
        ));
    }
    // Axes and decade ticks.
    out.push_str(&format!(
        "<line x1=\"{LEFT}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"black\"/>\n",
        y = TOP + ph,
        x2 = LEFT + pw
    ));
    let mut d = min_dec;
    while d <= max_dec {
        let x = x_of(10f64.powf(d));
        out.push_str(&format!(
            "<line x1=\"{x:.1}\" y1=\"{y0}\" x2=\"{x:.1}\" y2=\"{y1}\" stroke=\"black\"/><text x=\"{x:.1}\" y=\"{ty}\" text-anchor=\"middle\">{}</text>\n",
            label_us(10f64.powf(d)),
            y0 = TOP + ph,
            y1 = TOP + ph + 5.0,
            ty = TOP + ph + 18.0
        ));
        d += 1.0;
    }
    out.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">delivery latency (log scale), {} deliveries</text>\n",
        LEFT + pw / 2.0,
        H - 8.0,
        sorted.len()
    ));
    let hist = histogram(&sorted);
    for (name, q, color) in [("p50", 0.5, "#2a9d2a"), ("p99", 0.99, "#d08a00")] {
        {
            let v = hist.value_at_quantile(q);
            let x = x_of(v.max(1) as f64);
            out.push_str(&format!(
                "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{y}\" stroke=\"{color}\" stroke-dasharray=\"4 3\"/><text x=\"{tx:.1}\" y=\"{ty}\" fill=\"{color}\">{name} {}</text>\n",
                label_us(v as f64),
                y = TOP + ph,
                tx = x + 3.0,
                ty = TOP + if name == "p50" { 12.0 } else { 26.0 }
            ));
        }
    }
    let x = x_of(hi as f64);
    out.push_str(&format!(
        "<line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{y}\" stroke=\"#c03030\" stroke-dasharray=\"2 2\"/><text x=\"{tx:.1}\" y=\"{ty}\" fill=\"#c03030\" text-anchor=\"end\">max {}</text>\n",
        label_us(hi as f64),
        y = TOP + ph,
        tx = x - 3.0,
        ty = TOP + 40.0
    ));
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_bars_and_marks() {
        let samples: Vec<u64> = (1..=1000).map(|i| i * 50).collect();
        let svg = latency_svg(&samples, "a <test>");
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &lt;test&gt;"));
        assert!(
            svg.contains("p50 25.0") || svg.contains("p50 25 ms"),
            "{svg}"
        );
        assert!(svg.contains("p99"));
        assert!(svg.contains("max 50 ms"));
        assert!(svg.matches("<rect").count() > 10);
    }

    #[test]
    fn empty_is_still_a_document() {
        let svg = latency_svg(&[], "none");
        assert!(svg.contains("no deliveries") && svg.contains("</svg>"));
    }
}

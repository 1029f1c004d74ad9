//! Hand-written SVG: a line chart with axes, ticks and a legend, and a plain table.

use std::fmt::Write;

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 300.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#555555"];

pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
}

pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// Powers of two on the x axis, evenly spaced.
    pub x_log2: bool,
    /// Start the y axis at zero rather than at the smallest value.
    pub y_from_zero: bool,
    pub series: Vec<Series>,
}

/// Escapes text for SVG.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

struct Scale {
    minimum: f64,
    maximum: f64,
    from_pixel: f64,
    to_pixel: f64,
}

impl Scale {
    fn pixel(&self, value: f64) -> f64 {
        let span = (self.maximum - self.minimum).max(f64::EPSILON);
        self.from_pixel + (value - self.minimum) / span * (self.to_pixel - self.from_pixel)
    }
}

pub fn line_chart(chart: &Chart) -> String {
    let transform_x = |x: f64| if chart.x_log2 { x.max(f64::MIN_POSITIVE).log2() } else { x };
    let points = chart.series.iter().flat_map(|series| series.points.iter());
    let (x_values, y_values): (Vec<f64>, Vec<f64>) = points.map(|(x, y)| (transform_x(*x), *y)).unzip();
    let x_scale = Scale {
        minimum: x_values.iter().copied().fold(f64::INFINITY, f64::min),
        maximum: x_values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        from_pixel: LEFT,
        to_pixel: WIDTH - RIGHT,
    };
    let (y_minimum, y_maximum, y_step) = nice_range(
        if chart.y_from_zero { 0.0 } else { y_values.iter().copied().fold(f64::INFINITY, f64::min) },
        y_values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    let y_scale =
        Scale { minimum: y_minimum, maximum: y_maximum, from_pixel: HEIGHT - BOTTOM, to_pixel: TOP };
    let mut svg = header(&chart.title);
    draw_axes(&mut svg, chart, &x_scale, &y_scale, y_step);
    for (index, series) in chart.series.iter().enumerate() {
        draw_series(
            &mut svg,
            series,
            COLORS[index % COLORS.len()],
            index,
            |x| x_scale.pixel(transform_x(x)),
            |y| y_scale.pixel(y),
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn header(title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>\n",
        WIDTH / 2.0,
        escape(title)
    )
}

/// Rounds a range out to steps of 1, 2 or 5 times a power of ten.
fn nice_range(minimum: f64, maximum: f64) -> (f64, f64, f64) {
    let span = (maximum - minimum).max(1e-9);
    let raw_step = span / 6.0;
    let magnitude = 10f64.powf(raw_step.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|factor| factor * magnitude)
        .find(|step| *step >= raw_step)
        .unwrap_or(magnitude * 10.0);
    ((minimum / step).floor() * step, (maximum / step).ceil() * step, step)
}

fn draw_axes(svg: &mut String, chart: &Chart, x_scale: &Scale, y_scale: &Scale, y_step: f64) {
    let (bottom, right) = (HEIGHT - BOTTOM, WIDTH - RIGHT);
    let _ = writeln!(svg, "<path d=\"M{LEFT} {TOP} V{bottom} H{right}\" stroke=\"black\" fill=\"none\"/>");
    let mut y = y_scale.minimum;
    while y <= y_scale.maximum + y_step / 2.0 {
        let pixel = y_scale.pixel(y);
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{pixel:.1}\" x2=\"{right}\" y2=\"{pixel:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            pixel + 4.0,
            trim_number(y)
        );
        y += y_step;
    }
    for x in x_ticks(chart) {
        let pixel = x_scale.pixel(if chart.x_log2 { x.log2() } else { x });
        let _ = writeln!(
            svg,
            "<line x1=\"{pixel:.1}\" y1=\"{bottom}\" x2=\"{pixel:.1}\" y2=\"{}\" stroke=\"black\"/>\
             <text x=\"{pixel:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            bottom + 5.0,
            bottom + 18.0,
            trim_number(x)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
         <text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        (LEFT + right) / 2.0,
        HEIGHT - 18.0,
        escape(&chart.x_label),
        (TOP + bottom) / 2.0,
        escape(&chart.y_label)
    );
}

/// The x values of the data themselves: every chart here samples few, well-chosen points.
fn x_ticks(chart: &Chart) -> Vec<f64> {
    let mut ticks: Vec<f64> =
        chart.series.iter().flat_map(|series| series.points.iter().map(|(x, _)| *x)).collect();
    ticks.sort_by(f64::total_cmp);
    ticks.dedup();
    ticks
}

fn trim_number(value: f64) -> String {
    if (value - value.round()).abs() < 1e-9 {
        format!("{}", value.round() as i64)
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn draw_series(
    svg: &mut String,
    series: &Series,
    color: &str,
    index: usize,
    x_pixel: impl Fn(f64) -> f64,
    y_pixel: impl Fn(f64) -> f64,
) {
    let path: Vec<String> =
        series.points.iter().map(|(x, y)| format!("{:.1},{:.1}", x_pixel(*x), y_pixel(*y))).collect();
    let dash = if series.dashed { " stroke-dasharray=\"6 4\"" } else { "" };
    let _ = writeln!(
        svg,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>",
        path.join(" ")
    );
    for (x, y) in &series.points {
        let _ = writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"/>",
            x_pixel(*x),
            y_pixel(*y)
        );
    }
    let legend_y = TOP + 10.0 + 20.0 * index as f64;
    let legend_x = WIDTH - RIGHT + 15.0;
    let _ = writeln!(
        svg,
        "<line x1=\"{legend_x}\" y1=\"{legend_y}\" x2=\"{}\" y2=\"{legend_y}\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>\
         <text x=\"{}\" y=\"{}\">{}</text>",
        legend_x + 24.0,
        legend_x + 30.0,
        legend_y + 4.0,
        escape(&series.name)
    );
}

/// A table: a header row and data rows, as text cells.
pub fn table(title: &str, header_cells: &[&str], rows: &[Vec<String>]) -> String {
    let column_width = 110.0;
    let row_height = 24.0;
    let width = column_width * header_cells.len() as f64 + 40.0;
    let height = TOP + row_height * (rows.len() + 1) as f64 + 30.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"13\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"20\" y=\"24\" font-size=\"15\">{}</text>\n",
        escape(title)
    );
    let all_rows = std::iter::once(header_cells.iter().map(|cell| cell.to_string()).collect::<Vec<_>>())
        .chain(rows.iter().cloned());
    for (row_index, row) in all_rows.enumerate() {
        let y = TOP + row_height * (row_index as f64 + 0.7);
        let weight = if row_index == 0 { " font-weight=\"bold\"" } else { "" };
        for (column, cell) in row.iter().enumerate() {
            let x = 20.0 + column_width * (column as f64 + 1.0) - 10.0;
            let _ = writeln!(
                svg,
                "<text x=\"{x}\" y=\"{y:.1}\" text-anchor=\"end\"{weight}>{}</text>",
                escape(cell)
            );
        }
        if row_index == 0 {
            let line_y = y + 7.0;
            let _ = writeln!(
                svg,
                "<line x1=\"20\" y1=\"{line_y}\" x2=\"{}\" y2=\"{line_y}\" stroke=\"black\"/>",
                width - 20.0
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

//! Saves what the page made as files: a drawing as a standalone SVG (the element's markup with
//! the page's styles inlined, so it looks the same in slides and handouts), a run as JSON.

use js_sys::{Array, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, BlobPropertyBag, HtmlElement, Url};

/// Style rules copied at most, so a huge stylesheet cannot stall the export.
const RULES_MAX: u32 = 4_000;

pub fn export_svg(element_id: &str, file_name: &str) -> Result<(), String> {
    let document = web_sys::window().and_then(|window| window.document()).ok_or("no document")?;
    let svg =
        document.get_element_by_id(element_id).ok_or_else(|| format!("nothing to export: #{element_id}"))?;
    let markup = svg.outer_html();
    let (open_end, theme) = (markup.find('>').ok_or("not an element")?, theme_class(&document));
    let style = format!("<style>{}</style>", page_css(&document).replace("</", "<\\/"));
    // The page's theme variables live on the app's root; the file's root takes its class.
    let body = format!(
        "{}><g class=\"app {theme}\">{style}{}</g></svg>",
        &markup[..open_end],
        &markup[open_end + 1..markup.len() - "</svg>".len()]
    );
    let file = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", with_namespace(&body));
    download(&file, file_name, "image/svg+xml")
}

fn with_namespace(markup: &str) -> String {
    if markup.contains("xmlns=") {
        markup.to_string()
    } else {
        markup.replacen("<svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"", 1)
    }
}

fn theme_class(document: &web_sys::Document) -> String {
    document.query_selector(".app").ok().flatten().map(|element| element.class_name()).unwrap_or_default()
}

/// Every rule of the page's stylesheets, as text.
fn page_css(document: &web_sys::Document) -> String {
    let sheets = Reflect::get(document, &"styleSheets".into()).unwrap_or(JsValue::UNDEFINED);
    let sheets: Array = Array::from(&sheets);
    let mut css = String::new();
    for sheet in sheets.iter() {
        let rules =
            Reflect::get(&sheet, &"cssRules".into()).map(|rules| Array::from(&rules)).unwrap_or_default();
        for index in 0..rules.length().min(RULES_MAX) {
            let text =
                Reflect::get(&rules.get(index), &"cssText".into()).ok().and_then(|text| text.as_string());
            css.push_str(&text.unwrap_or_default());
            css.push('\n');
        }
    }
    css
}

/// Saves `text` as a file the browser downloads.
pub fn download(text: &str, file_name: &str, mime_type: &str) -> Result<(), String> {
    let describe = |error: JsValue| format!("{error:?}");
    let options = BlobPropertyBag::new();
    options.set_type(mime_type);
    let parts = Array::of1(&JsValue::from_str(text));
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options).map_err(describe)?;
    let url = Url::create_object_url_with_blob(&blob).map_err(describe)?;
    let document = web_sys::window().and_then(|window| window.document()).ok_or("no document")?;
    let link: HtmlElement = document.create_element("a").map_err(describe)?.unchecked_into();
    link.set_attribute("href", &url).map_err(describe)?;
    link.set_attribute("download", file_name).map_err(describe)?;
    link.click();
    Url::revoke_object_url(&url).map_err(describe)
}

//! The VINTF manifest fragment: a small well-formedness-checking XML reader over
//! `quick-xml`, and the check that the fragment declares the allocator version
//! `hal_interface` implements under the registered name, and the reference board's mapper.

use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::{Tree, DAEMON_MODULE, REFERENCE_BOARD, VINTF_XML};

pub(crate) const ALLOCATOR_PACKAGE: &str = "android.hardware.graphics.allocator";
pub(crate) const ALLOCATOR_FQNAME: &str = "IAllocator/default";
const MAPPER_VERSION: &str = "5.0";

/// A parsed XML element: enough structure for the VINTF fragment.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
}

/// Parses a well-formed XML document: balanced, matching tags, one root, no stray text.
fn parse_xml(text: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    fn attach(
        stack: &mut [Element],
        root: &mut Option<Element>,
        el: Element,
    ) -> Result<(), String> {
        match stack.last_mut() {
            Some(parent) => parent.children.push(el),
            None if root.is_none() => *root = Some(el),
            None => return Err(format!("second root element <{}>", el.name)),
        }
        Ok(())
    }
    fn element(start: &BytesStart<'_>) -> Result<Element, String> {
        let mut el = Element { name: start.name().as_ref().to_owned(), ..Element::default() };
        for attr in start.attributes() {
            let attr = attr.map_err(|e| format!("bad attribute in <{}>: {e}", el.name))?;
            let value =
                attr.normalized_value(XmlVersion::Implicit1_0).map_err(|e| e.to_string())?;
            el.attrs.insert(attr.key.as_ref().to_owned(), value.into_owned());
        }
        Ok(el)
    }
    loop {
        let event =
            reader.read_event().map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(start) => stack.push(element(&start)?),
            Event::Empty(start) => attach(&mut stack, &mut root, element(&start)?)?,
            Event::End(_) => {
                let el = stack.pop().ok_or("end tag without a start tag")?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(text) => match stack.last_mut() {
                Some(top) => top.text.push_str(&text.xml10_content()),
                None if text.trim().is_empty() => {}
                None => return Err(format!("text outside the root element: {:?}", &*text)),
            },
            Event::CData(_) | Event::GeneralRef(_) => {
                return Err(
                    "CDATA and entity references are not expected in a VINTF fragment".to_owned()
                )
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{}> is never closed", open.name));
    }
    root.ok_or_else(|| "no root element".to_owned())
}

/// What the fragment declares: the allocator instance (`<package>.<fqname>`) and the
/// mapper instance.
pub(crate) struct Vintf {
    pub(crate) allocator_instance: String,
    mapper_instance: Option<String>,
}

pub(crate) fn parse_vintf(xml: &str, problems: &mut Vec<String>) -> Option<Vintf> {
    let root = match parse_xml(xml) {
        Ok(root) => root,
        Err(e) => {
            problems.push(format!("{VINTF_XML}: not well-formed: {e}"));
            return None;
        }
    };
    if root.name != "manifest"
        || root.attr("version") != Some("1.0")
        || root.attr("type") != Some("device")
    {
        problems
            .push(format!("{VINTF_XML}: root must be <manifest version=\"1.0\" type=\"device\">"));
    }
    let hals: Vec<&Element> = root.children.iter().filter(|c| c.name == "hal").collect();
    let allocator: Vec<&&Element> = hals
        .iter()
        .filter(|h| {
            h.attr("format") == Some("aidl") && h.child_text("name") == Some(ALLOCATOR_PACKAGE)
        })
        .collect();
    let [allocator] = allocator.as_slice() else {
        problems.push(format!(
            "{VINTF_XML}: expected one <hal format=\"aidl\"> named {ALLOCATOR_PACKAGE}"
        ));
        return None;
    };
    let version = hal_interface::aidl::INTERFACE_VERSION.to_string();
    if allocator.child_text("version") != Some(version.as_str()) {
        problems.push(format!(
            "{VINTF_XML}: allocator <version> {:?}, hal_interface implements {version}",
            allocator.child_text("version")
        ));
    }
    let fqname = match (allocator.child_text("fqname"), allocator.child("interface")) {
        (Some(fq), None) => fq.to_owned(),
        (None, Some(i)) => format!(
            "{}/{}",
            i.child_text("name").unwrap_or(""),
            i.child_text("instance").unwrap_or("")
        ),
        _ => {
            problems.push(format!(
                "{VINTF_XML}: allocator needs exactly one of <fqname> or <interface>"
            ));
            String::new()
        }
    };
    if fqname != ALLOCATOR_FQNAME {
        problems.push(format!(
            "{VINTF_XML}: allocator instance {fqname:?}, expected {ALLOCATOR_FQNAME}"
        ));
    }
    let mapper: Vec<&&Element> = hals
        .iter()
        .filter(|h| h.attr("format") == Some("native") && h.child_text("name") == Some("mapper"))
        .collect();
    let mapper_instance = match mapper.as_slice() {
        [m] => {
            if m.child_text("version") != Some(MAPPER_VERSION) {
                problems.push(format!("{VINTF_XML}: mapper <version> must be {MAPPER_VERSION}"));
            }
            m.child("interface").and_then(|i| i.child_text("instance")).map(str::to_owned)
        }
        _ => {
            problems
                .push(format!("{VINTF_XML}: expected one <hal format=\"native\"> named mapper"));
            None
        }
    };
    Some(Vintf { allocator_instance: format!("{ALLOCATOR_PACKAGE}.{fqname}"), mapper_instance })
}

pub(crate) fn check_vintf(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(vintf) = parse_vintf(&tree.vintf_xml, &mut problems) else { return problems };
    if vintf.allocator_instance != hal_interface::transport::SERVICE_NAME {
        problems.push(format!(
            "{VINTF_XML}: declares {}, but the daemon registers {}",
            vintf.allocator_instance,
            hal_interface::transport::SERVICE_NAME
        ));
    }
    let board: toml::Table = match toml::from_str(&tree.reference_board) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{REFERENCE_BOARD}: {e}"));
            return problems;
        }
    };
    let suffix =
        board.get("board").and_then(|b| b.get("mapper_suffix")).and_then(toml::Value::as_str);
    match (suffix, vintf.mapper_instance.as_deref()) {
        (Some(s), Some(i)) if s == i => {}
        (suffix, instance) => problems.push(format!(
            "{VINTF_XML}: mapper instance {instance:?}, but {REFERENCE_BOARD} has mapper_suffix {suffix:?} \
             (getIMapperLibrarySuffix must name the declared mapper)"
        )),
    }
    let daemon = tree.blueprint.module(DAEMON_MODULE);
    if !daemon.is_some_and(|d| d.strings(&["vintf_fragments"]).contains(&VINTF_XML.to_owned())) {
        problems.push(format!("{DAEMON_MODULE}: vintf_fragments must list {VINTF_XML}"));
    }
    problems
}

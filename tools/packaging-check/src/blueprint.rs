//! The Soong side: `Android.bp` parsed with `android_bp`, each module's `defaults` merged in.

use std::collections::{BTreeSet, HashMap};

use android_bp::{BluePrint, Value};

/// `Android.bp` with each module's `defaults` merged in (lists append, maps merge, scalars
/// of the module win), as Soong does.
#[derive(Debug)]
pub(crate) struct Blueprint {
    pub(crate) raw: BluePrint,
    pub(crate) modules: Vec<Module>,
}

#[derive(Debug)]
pub(crate) struct Module {
    pub(crate) typ: String,
    pub(crate) name: String,
    pub(crate) props: HashMap<String, Value>,
}

impl Blueprint {
    pub(crate) fn parse(text: &str) -> Result<Blueprint, String> {
        let raw = BluePrint::parse(text).map_err(|e| format!("does not parse: {e}"))?;
        let by_name: HashMap<&str, &android_bp::Module> =
            raw.modules.iter().filter_map(|m| Some((m.get_string("name")?.as_str(), m))).collect();
        let mut modules = Vec::new();
        for m in &raw.modules {
            let Some(name) = m.get_string("name") else { continue };
            let props = resolve_defaults(m, &by_name, 0)?;
            modules.push(Module { typ: m.typ.clone(), name: name.clone(), props });
        }
        Ok(Blueprint { raw, modules })
    }

    pub(crate) fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    pub(crate) fn of_type<'a>(&'a self, typ: &'a str) -> impl Iterator<Item = &'a Module> + 'a {
        self.modules.iter().filter(move |m| m.typ == typ)
    }

    pub(crate) fn rust_modules(&self) -> impl Iterator<Item = &Module> {
        self.modules.iter().filter(|m| m.typ.starts_with("rust_") && m.typ != "rust_defaults")
    }
}

fn resolve_defaults(
    module: &android_bp::Module,
    by_name: &HashMap<&str, &android_bp::Module>,
    depth: usize,
) -> Result<HashMap<String, Value>, String> {
    if depth > 8 {
        return Err("defaults nest deeper than 8 levels (a cycle?)".to_owned());
    }
    let mut props = HashMap::new();
    for default in module.get_array("defaults").into_iter().flatten() {
        let Value::String(default) = default else {
            return Err(format!("non-string entry in defaults: {default:?}"));
        };
        let d =
            by_name.get(default.as_str()).ok_or_else(|| format!("unknown defaults {default:?}"))?;
        let inherited = resolve_defaults(d, by_name, depth.saturating_add(1))?;
        merge_props(&mut props, &inherited);
    }
    let own: HashMap<String, Value> = module
        .entries
        .iter()
        .filter(|(k, _)| *k != "defaults")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    merge_props(&mut props, &own);
    Ok(props)
}

fn merge_props(base: &mut HashMap<String, Value>, over: &HashMap<String, Value>) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(Value::Array(a)), Value::Array(b)) => a.extend(b.iter().cloned()),
            (Some(Value::Map(a)), Value::Map(b)) => merge_props(&mut a.0, &b.0),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

impl Module {
    pub(crate) fn get(&self, path: &[&str]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut value = self.props.get(*first)?;
        for key in rest {
            let Value::Map(map) = value else { return None };
            value = map.get(*key)?;
        }
        Some(value)
    }

    pub(crate) fn string(&self, key: &str) -> Option<&str> {
        match self.get(&[key]) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        match self.get(&[key]) {
            Some(Value::Boolean(b)) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn strings(&self, path: &[&str]) -> Vec<String> {
        strings_of(self.get(path))
    }

    /// The crate root: the first `srcs` entry that is a file, not a `:module`.
    pub(crate) fn crate_root(&self) -> Option<String> {
        self.strings(&["srcs"]).into_iter().find(|s| !s.starts_with(':'))
    }

    /// Rust dependencies at the top level (any linkage).
    pub(crate) fn rust_deps(&self, prefix: &[&str]) -> BTreeSet<String> {
        ["rustlibs", "rlibs", "dylibs", "proc_macros"]
            .iter()
            .flat_map(|key| {
                let mut path = prefix.to_vec();
                path.push(key);
                self.strings(&path)
            })
            .collect()
    }
}

pub(crate) fn strings_of(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

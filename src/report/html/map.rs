//! The SVG flow map, laid out like the diagrams of Microsoft's "Network ports
//! for clients and mail flow in Exchange 2013": the internet on the left, the
//! perimeter network with the Edge Transport servers in the middle, the
//! internal network on the right, firewalls between them.
//!
//! One node per role set (`client_access+mailbox` for multi-role hosts), not
//! per host: the matrix judges roles, and a site with dozens of Client Access
//! servers would otherwise draw an unreadable map. Each node names its
//! addresses when one fits, and lists up to [`MAX_TOOLTIP_HOSTS`] in its
//! tooltip. One arrow per observed path (client node, server node, port,
//! protocol, verdict), labelled `443/TCP TLS`, coloured and dashed by verdict,
//! as thick as the logarithm of its flow count. At most [`MAX_MAP_PATHS`]
//! arrows are drawn, unexpected ones first; the paths table lists every path.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::html_text;
use crate::i18n::{Lang, message};
use crate::report::summary::labels::{self, RoleName};
use crate::report::summary::text::human_bytes;
use crate::report::summary::{Summary, Verdict};

/// Maximum number of arrows drawn.
pub const MAX_MAP_PATHS: usize = 40;

/// Addresses named in a node's tooltip.
pub const MAX_TOOLTIP_HOSTS: usize = 8;

const MARGIN: f64 = 16.0;
const NODE_WIDTH: f64 = 236.0;
const ZONE_PADDING: f64 = 20.0;
const ZONE_WIDTH: f64 = NODE_WIDTH + 2.0 * ZONE_PADDING;
/// Vertical room per arrow end on a node's side: a node with many arrows
/// grows so that their ends do not overlap.
const PORT_PITCH: f64 = 18.0;
/// Space between zones, where the arrows' labels sit.
const GAP: f64 = 170.0;
const TITLE_BAND: f64 = 44.0;
const NODE_SPACING: f64 = 30.0;
const LINE_HEIGHT: f64 = 16.0;
/// Minimum vertical distance between two labels in one column.
const LABEL_SPACING: f64 = 22.0;
const LABEL_HEIGHT: f64 = 18.0;
const TITLE_SIZE: f64 = 13.0;
const SUB_SIZE: f64 = 11.0;
const LABEL_SIZE: f64 = 11.0;
/// Text starts this far right of a node's left edge, after the server icon.
const TEXT_INSET: f64 = 38.0;
/// Maximum height of the internet node drawn as a cloud. A taller one, which
/// many arrows meet, is a rounded box because a stretched cloud looks broken.
const MAX_CLOUD_HEIGHT: f64 = 150.0;

/// Addresses seen on one node.
pub(super) struct HostSummary<'a> {
    pub addresses: Vec<&'a str>,
    /// More addresses were seen than were kept.
    pub more: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Zone {
    Internet,
    Perimeter,
    Internal,
}

impl Zone {
    const ALL: [Zone; 3] = [Zone::Internet, Zone::Perimeter, Zone::Internal];

    fn of(roles: &str) -> Zone {
        let has = |role: &str| roles.split('+').any(|candidate| candidate == role);
        if has("edge_transport") || roles == "proxy" {
            // The proxy the Edge uses for sender reputation faces the
            // internet, so it is drawn beside the Edge.
            Zone::Perimeter
        } else if roles == "internet" {
            Zone::Internet
        } else {
            Zone::Internal
        }
    }

    fn id(self) -> &'static str {
        match self {
            Zone::Internet => "internet",
            Zone::Perimeter => "perimeter",
            Zone::Internal => "internal",
        }
    }
}

/// Horizontal layout. The perimeter network gets a column only when one of
/// its hosts was seen. Without it, the map shows the internet and the internal
/// network with one firewall between them, as Microsoft draws such a site.
#[derive(Clone, Copy, Debug)]
struct Layout {
    perimeter: bool,
}

impl Layout {
    fn zones(self) -> &'static [Zone] {
        if self.perimeter {
            &Zone::ALL
        } else {
            &[Zone::Internet, Zone::Internal]
        }
    }

    fn left(self, zone: Zone) -> f64 {
        let column = match zone {
            Zone::Internet => 0.0,
            Zone::Perimeter => 1.0,
            Zone::Internal if self.perimeter => 2.0,
            Zone::Internal => 1.0,
        };
        MARGIN + column * (ZONE_WIDTH + GAP)
    }
}

/// Returns the sides of the client and server nodes an arrow leaves and
/// enters: facing each other across zones, the right sides within one zone.
fn sides(client: Zone, server: Zone) -> (Side, Side) {
    match client.cmp(&server) {
        std::cmp::Ordering::Less => (Side::Right, Side::Left),
        std::cmp::Ordering::Greater => (Side::Left, Side::Right),
        std::cmp::Ordering::Equal => (Side::Right, Side::Right),
    }
}

/// One arrow: the summary rows of one path, whatever their rule.
struct MapPath {
    client: String,
    server: String,
    port: String,
    app: String,
    verdict: Verdict,
    flows: u64,
    bytes: u64,
    rules: BTreeSet<String>,
}

impl MapPath {
    /// Returns the path's id, read back by the browser test.
    fn data_id(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.client,
            self.server,
            self.port,
            self.app,
            self.verdict.as_str()
        )
    }
}

struct Node {
    id: String,
    zone: Zone,
    title_lines: Vec<String>,
    sub: String,
    tooltip: String,
    x: f64,
    y: f64,
    height: f64,
}

impl Node {
    fn center_y(&self) -> f64 {
        self.y + self.height / 2.0
    }

    fn right(&self) -> f64 {
        self.x + NODE_WIDTH
    }

    fn is_cloud(&self) -> bool {
        self.zone == Zone::Internet && self.height <= MAX_CLOUD_HEIGHT
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Left,
    Right,
}

/// The column an arrow's label sits in: between two zones, past the perimeter
/// network, or right of one zone for arrows between nodes of that zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Column {
    Between(Zone, Zone),
    Across,
    Beside(Zone),
}

struct Route {
    client: usize,
    server: usize,
    client_side: Side,
    server_side: Side,
    column: Column,
    /// Waypoint: the label's centre, through which the arrow passes.
    label_x: f64,
    label_y: f64,
    /// For an arrow within one zone, how far right it bulges.
    bulge_x: f64,
    start_y: f64,
    end_y: f64,
}

/// Writes the flow map as an inline SVG element. Returns the number of paths
/// not drawn because of [`MAX_MAP_PATHS`].
pub(super) fn write_map(
    page: &mut String,
    summary: &Summary,
    hosts: &BTreeMap<&str, HostSummary<'_>>,
    lang: Lang,
) -> usize {
    let mut paths = map_paths(summary);
    if paths.is_empty() {
        let _ = writeln!(
            page,
            "<p class=\"map-empty\">{}</p>",
            html_text(&message(lang, "report.html.map.empty", &[]))
        );
        return 0;
    }
    let omitted = paths.len().saturating_sub(MAX_MAP_PATHS);
    paths.truncate(MAX_MAP_PATHS);

    let layout = Layout {
        perimeter: paths.iter().any(|path| {
            Zone::of(&path.client) == Zone::Perimeter || Zone::of(&path.server) == Zone::Perimeter
        }),
    };
    let label_texts: Vec<String> = paths.iter().map(|path| label_text(path, lang)).collect();
    let label_widths: Vec<f64> = label_texts
        .iter()
        .map(|text| estimate_width(text, LABEL_SIZE) + 12.0)
        .collect();
    let nodes = place_nodes(&paths, hosts, lang, layout);
    let mut routes = route_paths(&paths, &nodes, layout);
    resolve_labels(&mut routes, &nodes, &label_widths);
    spread_ports(&mut routes, &nodes);

    let content_bottom = nodes
        .iter()
        .map(|node| node.y + node.height)
        .chain(routes.iter().map(|route| route.label_y + LABEL_HEIGHT))
        .fold(TITLE_BAND + 120.0, f64::max);
    let height = content_bottom + 24.0 + MARGIN;
    // The internal network reaches past its outermost arc and label.
    let content_right = routes
        .iter()
        .zip(&label_widths)
        .map(|(route, width)| (route.label_x + width / 2.0).max(route.bulge_x))
        .chain(nodes.iter().map(Node::right))
        .fold(layout.left(Zone::Internal) + ZONE_WIDTH - 16.0, f64::max);
    let internal_right = content_right + 16.0;
    let width = internal_right + MARGIN;

    let _ = writeln!(
        page,
        "<svg class=\"flow-map\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\" \
         aria-label=\"{}\" data-map-paths=\"{}\">",
        html_text(&message(lang, "report.html.map.title", &[])),
        paths.len()
    );
    write_defs(page);
    write_zones(page, layout, height, internal_right, lang);

    // Quiet paths first, so that unexpected arrows are drawn on top.
    let mut order: Vec<usize> = (0..paths.len()).collect();
    order.sort_by_key(|&index| std::cmp::Reverse(paths[index].verdict));
    page.push_str("<g class=\"edges\">\n");
    for &index in &order {
        write_edge(page, &paths[index], &routes[index], &nodes, lang);
    }
    page.push_str("</g>\n<g class=\"nodes\">\n");
    for node in &nodes {
        write_node(page, node);
    }
    page.push_str("</g>\n<g class=\"labels\">\n");
    for &index in &order {
        write_label(
            page,
            &paths[index],
            &label_texts[index],
            label_widths[index],
            &routes[index],
        );
    }
    page.push_str("</g>\n</svg>\n");
    omitted
}

/// Merges the summary rows into arrows, unexpected first, then by flows.
fn map_paths(summary: &Summary) -> Vec<MapPath> {
    let mut merged: BTreeMap<(Verdict, &str, &str, String, &str), MapPath> = BTreeMap::new();
    for row in &summary.rows {
        let port = labels::port_label(&row.path.transport, row.path.port);
        let key = (
            row.verdict,
            row.path.client_roles.as_str(),
            row.path.server_roles.as_str(),
            port.clone(),
            row.path.app.as_str(),
        );
        let path = merged.entry(key).or_insert_with(|| MapPath {
            client: row.path.client_roles.clone(),
            server: row.path.server_roles.clone(),
            port,
            app: row.path.app.clone(),
            verdict: row.verdict,
            flows: 0,
            bytes: 0,
            rules: BTreeSet::new(),
        });
        path.flows = path.flows.saturating_add(row.flows);
        path.bytes = path.bytes.saturating_add(row.bytes);
        if let Some(rule) = &row.rule {
            path.rules.insert(rule.clone());
        }
    }
    let mut paths: Vec<MapPath> = merged.into_values().collect();
    paths.sort_by(|a, b| {
        a.verdict
            .cmp(&b.verdict)
            .then(b.flows.cmp(&a.flows))
            .then_with(|| a.data_id().cmp(&b.data_id()))
    });
    paths
}

/// Creates one node per role set and stacks each zone's nodes, centred on
/// the tallest zone.
fn place_nodes(
    paths: &[MapPath],
    hosts: &BTreeMap<&str, HostSummary<'_>>,
    lang: Lang,
    layout: Layout,
) -> Vec<Node> {
    let mut ids: Vec<&str> = paths
        .iter()
        .flat_map(|path| [path.client.as_str(), path.server.as_str()])
        .collect();
    ids.sort_by(|a, b| {
        let first_role = |roles: &str| labels::role_rank(roles.split('+').next().unwrap_or(""));
        first_role(a).cmp(&first_role(b)).then(a.cmp(b))
    });
    ids.dedup();

    let mut nodes: Vec<Node> = ids
        .into_iter()
        .map(|id| new_node(id, hosts.get(id), lang))
        .collect();

    // Grow nodes whose sides many arrows meet.
    let mut ends: BTreeMap<(&str, Side), usize> = BTreeMap::new();
    for path in paths {
        let (client_side, server_side) = sides(Zone::of(&path.client), Zone::of(&path.server));
        *ends.entry((path.client.as_str(), client_side)).or_default() += 1;
        *ends.entry((path.server.as_str(), server_side)).or_default() += 1;
    }
    for node in &mut nodes {
        let busiest = [Side::Left, Side::Right]
            .into_iter()
            .map(|side| ends.get(&(node.id.as_str(), side)).copied().unwrap_or(0))
            .max()
            .unwrap_or(0);
        node.height = node.height.max(12.0 + PORT_PITCH * busiest as f64);
    }

    let column_height = |zone: Zone| {
        let stacked: f64 = nodes
            .iter()
            .filter(|node| node.zone == zone)
            .map(|node| node.height + NODE_SPACING)
            .sum();
        (stacked - NODE_SPACING).max(0.0)
    };
    let heights = Zone::ALL.map(column_height);
    let tallest = heights.iter().copied().fold(0.0, f64::max);
    for (zone, height) in Zone::ALL.into_iter().zip(heights) {
        let mut y = TITLE_BAND + 16.0 + (tallest - height) / 2.0;
        for node in nodes.iter_mut().filter(|node| node.zone == zone) {
            node.x = layout.left(zone) + ZONE_PADDING;
            node.y = y;
            y += node.height + NODE_SPACING;
        }
    }
    nodes
}

fn new_node(id: &str, hosts: Option<&HostSummary<'_>>, lang: Lang) -> Node {
    let roles: Vec<&str> = id.split('+').collect();
    let title_lines: Vec<String> = if roles.len() == 1 {
        vec![labels::role_label(lang, roles[0], RoleName::Full).into_owned()]
    } else {
        roles
            .iter()
            .enumerate()
            .map(|(index, role)| {
                let name = labels::role_label(lang, role, RoleName::Short);
                if index == 0 {
                    name.into_owned()
                } else {
                    format!("+ {name}")
                }
            })
            .collect()
    };

    let (count, more, addresses) = match hosts {
        Some(hosts) => (
            hosts.addresses.len() as u64,
            hosts.more,
            hosts.addresses.as_slice(),
        ),
        None => (0, false, &[][..]),
    };
    let sub = if count == 1 && !more {
        addresses[0].to_string()
    } else if more {
        message(
            lang,
            "report.html.node.hosts_more",
            &[("count", &crate::report::summary::text::group_digits(count))],
        )
    } else {
        labels::count_noun(lang, "host", count)
    };
    let mut tooltip = title_lines.join(" ");
    if !addresses.is_empty() {
        tooltip.push_str(": ");
        let listed: Vec<&str> = addresses.iter().take(MAX_TOOLTIP_HOSTS).copied().collect();
        tooltip.push_str(&listed.join(", "));
        if addresses.len() > MAX_TOOLTIP_HOSTS || more {
            tooltip.push_str(", ...");
        }
    }

    let height = 22.0 + LINE_HEIGHT * title_lines.len() as f64 + 16.0;
    Node {
        id: id.to_string(),
        zone: Zone::of(id),
        title_lines,
        sub,
        tooltip,
        x: 0.0,
        y: 0.0,
        height,
    }
}

fn node_index(nodes: &[Node], id: &str) -> usize {
    nodes.iter().position(|node| node.id == id).unwrap_or(0)
}

/// Chooses each arrow's sides and label column, and its wanted label height.
fn route_paths(paths: &[MapPath], nodes: &[Node], layout: Layout) -> Vec<Route> {
    let perimeter_bottom = nodes
        .iter()
        .filter(|node| node.zone == Zone::Perimeter)
        .map(|node| node.y + node.height)
        .fold(None, |lowest: Option<f64>, bottom| {
            Some(lowest.map_or(bottom, |y| y.max(bottom)))
        });

    paths
        .iter()
        .map(|path| {
            let client = node_index(nodes, &path.client);
            let server = node_index(nodes, &path.server);
            let (from, to) = (&nodes[client], &nodes[server]);
            let mid_y = (from.center_y() + to.center_y()) / 2.0;
            let mut route = Route {
                client,
                server,
                client_side: Side::Right,
                server_side: Side::Right,
                column: Column::Beside(from.zone),
                label_x: 0.0,
                label_y: mid_y,
                bulge_x: 0.0,
                start_y: from.center_y(),
                end_y: to.center_y(),
            };
            if from.zone == to.zone {
                route.label_x = from.right() + 60.0;
                return route;
            }

            let rightward = from.zone < to.zone;
            (route.client_side, route.server_side) = sides(from.zone, to.zone);
            let (left, right) = if rightward {
                (from.zone, to.zone)
            } else {
                (to.zone, from.zone)
            };
            if layout.perimeter && left == Zone::Internet && right == Zone::Internal {
                // Past the perimeter network: below its nodes when it has
                // any, so the arrow does not cross an Edge Transport server.
                route.column = Column::Across;
                route.label_x = layout.left(Zone::Perimeter) + ZONE_WIDTH / 2.0;
                if let Some(bottom) = perimeter_bottom {
                    // All such arrows share one lane column; ordering them by
                    // the height of their internal node keeps them from
                    // crossing each other.
                    let internal = if rightward { to } else { from };
                    route.label_y = bottom + 34.0 + internal.center_y() / 1000.0;
                }
            } else {
                route.column = Column::Between(left, right);
                // The left zone of a pair is never the internal network, so
                // it has the standard width.
                route.label_x = layout.left(left) + ZONE_WIDTH + GAP / 2.0;
            }
            route
        })
        .collect()
}

/// Moves labels apart within each column, and places the labels of arrows
/// within one zone on their arc.
fn resolve_labels(routes: &mut [Route], nodes: &[Node], label_widths: &[f64]) {
    let mut columns: BTreeMap<Column, Vec<usize>> = BTreeMap::new();
    for (index, route) in routes.iter().enumerate() {
        columns.entry(route.column).or_default().push(index);
    }

    for (column, mut members) in columns {
        if let Column::Beside(_) = column {
            // Arcs spanning more nodes bulge further out, so arcs nest.
            members.sort_by(|&a, &b| {
                let span = |route: &Route| (route.start_y - route.end_y).abs();
                span(&routes[a])
                    .total_cmp(&span(&routes[b]))
                    .then(a.cmp(&b))
            });
            for (lane, &index) in members.iter().enumerate() {
                let right = nodes[routes[index].client].right();
                routes[index].bulge_x = right + 52.0 + 36.0 * lane as f64;
            }
        }

        members.sort_by(|&a, &b| {
            routes[a]
                .label_y
                .total_cmp(&routes[b].label_y)
                .then(a.cmp(&b))
        });
        let wanted: Vec<f64> = members.iter().map(|&index| routes[index].label_y).collect();
        let mut previous: Option<f64> = None;
        for &index in &members {
            let wanted = routes[index].label_y;
            let y = previous.map_or(wanted, |above| wanted.max(above + LABEL_SPACING));
            routes[index].label_y = y;
            previous = Some(y);
        }

        // Pushing labels down moved the stack off its arrows' middle: centre
        // it again, but not into the title band. Lanes past the perimeter
        // network stay below its nodes.
        if column != Column::Across {
            let count = members.len() as f64;
            let resolved: f64 = members.iter().map(|&index| routes[index].label_y).sum();
            let mut shift = wanted.iter().sum::<f64>() / count - resolved / count;
            if let Some(&top) = members.first() {
                let highest = TITLE_BAND + 12.0;
                shift = shift.max(highest - routes[top].label_y).min(0.0);
            }
            for &index in &members {
                routes[index].label_y += shift;
            }
        }

        if let Column::Beside(_) = column {
            for &index in &members {
                let route = &mut routes[index];
                let start_x = nodes[route.client].right();
                let on_arc = arc_x_at(
                    start_x,
                    route.bulge_x,
                    route.start_y,
                    route.end_y,
                    route.label_y,
                );
                // Keep a label of a short arc clear of its node.
                let clear = start_x + 8.0 + label_widths[index] / 2.0;
                route.label_x = on_arc.max(clear);
            }
        }
    }
}

/// Returns the x of the arc from (`start_x`, `start_y`) to (`start_x`,
/// `end_y`) with control points at `bulge_x`, at height `y`. Heights outside
/// the arc get its outermost x.
fn arc_x_at(start_x: f64, bulge_x: f64, start_y: f64, end_y: f64, y: f64) -> f64 {
    // The cubic Bezier with control points (bulge_x, start_y) and (bulge_x,
    // end_y) has x(t) = start_x + 3t(1 - t)(bulge_x - start_x) and y(t)
    // moving monotonically from start_y to end_y, so bisect on y.
    let curve_y = |t: f64| start_y + (end_y - start_y) * (3.0 * t * t - 2.0 * t * t * t);
    let (low, high) = (start_y.min(end_y), start_y.max(end_y));
    if high - low < 1.0 || y <= low || y >= high {
        return start_x + 0.75 * (bulge_x - start_x);
    }
    let increasing = end_y > start_y;
    let (mut t0, mut t1) = (0.0, 1.0);
    for _ in 0..40 {
        let t = (t0 + t1) / 2.0;
        if (curve_y(t) < y) == increasing {
            t0 = t;
        } else {
            t1 = t;
        }
    }
    let t = (t0 + t1) / 2.0;
    start_x + 3.0 * t * (1.0 - t) * (bulge_x - start_x)
}

/// One arrow's end on a side of a node.
struct PortEnd {
    /// Height of the arrow's label, which orders the ends along the side.
    order: f64,
    route: usize,
    is_start: bool,
}

/// Spreads the ends of the arrows meeting one side of a node over its
/// height, ordered by where the arrows come from, so they do not pile up.
fn spread_ports(routes: &mut [Route], nodes: &[Node]) {
    let mut sides: BTreeMap<(usize, Side), Vec<PortEnd>> = BTreeMap::new();
    for (index, route) in routes.iter().enumerate() {
        // A loop from a node to itself leaves just above where it returns.
        let self_loop = route.client == route.server;
        let start_order = if self_loop {
            route.label_y - 1.0
        } else {
            route.label_y
        };
        sides
            .entry((route.client, route.client_side))
            .or_default()
            .push(PortEnd {
                order: start_order,
                route: index,
                is_start: true,
            });
        sides
            .entry((route.server, route.server_side))
            .or_default()
            .push(PortEnd {
                order: route.label_y,
                route: index,
                is_start: false,
            });
    }
    for ((node, _), mut ends) in sides {
        ends.sort_by(|a, b| {
            a.order
                .total_cmp(&b.order)
                .then(a.route.cmp(&b.route))
                .then(b.is_start.cmp(&a.is_start))
        });
        let node = &nodes[node];
        // A cloud's sides are upright only in its lower half.
        let (top, bottom) = if node.is_cloud() {
            (node.y + 0.45 * node.height, node.y + 0.97 * node.height)
        } else {
            (node.y + 6.0, node.y + node.height - 6.0)
        };
        let step = (bottom - top) / (ends.len() as f64 + 1.0);
        for (position, end) in ends.into_iter().enumerate() {
            let y = top + step * (position as f64 + 1.0);
            if end.is_start {
                routes[end.route].start_y = y;
            } else {
                routes[end.route].end_y = y;
            }
        }
    }
}

fn write_defs(page: &mut String) {
    page.push_str("<defs>\n");
    for verdict in Verdict::ALL {
        let _ = writeln!(
            page,
            "<marker id=\"arrow-{id}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" \
             markerWidth=\"11\" markerHeight=\"11\" markerUnits=\"userSpaceOnUse\" \
             orient=\"auto\"><path class=\"arrow {id}\" d=\"M0,0 L10,5 L0,10 z\"/></marker>",
            id = verdict.as_str()
        );
    }
    page.push_str(
        "<pattern id=\"bricks\" width=\"12\" height=\"8\" patternUnits=\"userSpaceOnUse\">\
         <rect width=\"12\" height=\"8\" fill=\"#c8734a\"/>\
         <path d=\"M0 4H12M6 0V4M0 4V8M12 4V8\" stroke=\"#f4e1d4\" stroke-width=\"1\"/></pattern>\n",
    );
    page.push_str("</defs>\n");
}

fn write_zones(page: &mut String, layout: Layout, height: f64, internal_right: f64, lang: Lang) {
    for &zone in layout.zones() {
        let left = layout.left(zone);
        let width = match zone {
            Zone::Internal => internal_right - left,
            _ => ZONE_WIDTH,
        };
        let title = message(lang, &format!("report.html.zone.{}", zone.id()), &[]);
        let _ = writeln!(
            page,
            "<g class=\"zone {id}\"><rect x=\"{left:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" \
             height=\"{h:.1}\" rx=\"10\"/><text x=\"{tx:.1}\" y=\"{ty:.1}\">{title}</text></g>",
            id = zone.id(),
            y = MARGIN,
            h = height - 2.0 * MARGIN,
            tx = left + 14.0,
            ty = MARGIN + 22.0,
            title = html_text(&title),
        );
    }

    // Firewalls on both sides of the perimeter network, or one in front of
    // the internal network. They stand near the zones, clear of the labels in
    // the middle of each gap.
    let firewalls = if layout.perimeter {
        vec![
            layout.left(Zone::Perimeter) - 18.0,
            layout.left(Zone::Perimeter) + ZONE_WIDTH + 8.0,
        ]
    } else {
        vec![layout.left(Zone::Internal) - 14.0]
    };
    for x in firewalls {
        let _ = writeln!(
            page,
            "<rect class=\"firewall\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"10\" height=\"{h:.1}\" \
             fill=\"url(#bricks)\" rx=\"2\"/>",
            y = MARGIN + 30.0,
            h = height - 2.0 * MARGIN - 44.0,
        );
    }
}

/// Returns the stroke width for a flow count: 1.6 for one flow, growing with
/// the decimal logarithm up to 9.
fn stroke_width(flows: u64) -> f64 {
    (1.6 + 1.9 * (flows.max(1) as f64).log10()).min(9.0)
}

fn side_x(node: &Node, side: Side) -> f64 {
    match side {
        Side::Left => node.x,
        Side::Right => node.right(),
    }
}

fn edge_geometry(route: &Route, nodes: &[Node]) -> String {
    let from = &nodes[route.client];
    let to = &nodes[route.server];
    let (sx, sy) = (side_x(from, route.client_side), route.start_y);
    let (ex, ey) = (side_x(to, route.server_side), route.end_y);
    if let Column::Beside(_) = route.column {
        return format!(
            "M{sx:.1},{sy:.1} C{bx:.1},{sy:.1} {bx:.1},{ey:.1} {ex:.1},{ey:.1}",
            bx = route.bulge_x
        );
    }
    let (wx, wy) = (route.label_x, route.label_y);
    let direction = if ex > sx { 1.0 } else { -1.0 };
    let first = (wx - sx).abs() * 0.55;
    let second = (ex - wx).abs() * 0.55;
    format!(
        "M{sx:.1},{sy:.1} C{c1:.1},{sy:.1} {c2:.1},{wy:.1} {wx:.1},{wy:.1} S{c3:.1},{ey:.1} {ex:.1},{ey:.1}",
        c1 = sx + direction * first,
        c2 = wx - direction * first,
        c3 = ex - direction * second,
    )
}

fn label_text(path: &MapPath, lang: Lang) -> String {
    let mut label = format!("{} {}", path.port, labels::app_label(lang, &path.app));
    if path.flows > 1 {
        let _ = write!(label, " \u{d7}{}", path.flows);
    }
    label
}

fn write_edge(page: &mut String, path: &MapPath, route: &Route, nodes: &[Node], lang: Lang) {
    let client = labels::role_set_label(lang, &path.client, RoleName::Short);
    let server = labels::role_set_label(lang, &path.server, RoleName::Short);
    let mut tooltip = format!(
        "{client} \u{2192} {server}: {} {}, {}, {}, {}",
        path.port,
        labels::app_label(lang, &path.app),
        labels::verdict_label(lang, path.verdict),
        labels::count_noun(lang, "flow", path.flows),
        human_bytes(path.bytes),
    );
    if !path.rules.is_empty() {
        let rules: Vec<&str> = path.rules.iter().map(String::as_str).collect();
        let _ = write!(
            tooltip,
            ", {} {}",
            message(lang, "report.column.rule", &[]),
            rules.join(", ")
        );
    }
    let _ = writeln!(
        page,
        "<g class=\"edge {verdict}\" data-path=\"{id}\" data-verdict=\"{verdict}\" data-flows=\"{flows}\">\
         <title>{tooltip}</title><path class=\"edge-line\" d=\"{d}\" stroke-width=\"{width:.1}\" \
         marker-end=\"url(#arrow-{verdict})\"/></g>",
        verdict = path.verdict.as_str(),
        id = html_text(&path.data_id()),
        flows = path.flows,
        tooltip = html_text(&tooltip),
        d = edge_geometry(route, nodes),
        width = stroke_width(path.flows),
    );
}

/// Returns an estimate of the width of `text` in pixels at `size`. The
/// browser refits label boxes once it has measured the text, but node titles
/// are compressed whenever this estimate exceeds the room they have.
fn estimate_width(text: &str, size: f64) -> f64 {
    text.chars()
        .map(|c| if c.is_ascii() { 0.6 } else { 1.0 })
        .sum::<f64>()
        * size
}

fn write_label(page: &mut String, path: &MapPath, text: &str, width: f64, route: &Route) {
    let _ = writeln!(
        page,
        "<g class=\"edge-label {verdict}\" data-path=\"{id}\"><rect class=\"label-box\" \
         x=\"{bx:.1}\" y=\"{by:.1}\" width=\"{width:.1}\" height=\"{LABEL_HEIGHT:.1}\" rx=\"4\"/>\
         <text class=\"label\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" \
         dominant-baseline=\"central\">{text}</text></g>",
        verdict = path.verdict.as_str(),
        id = html_text(&path.data_id()),
        bx = route.label_x - width / 2.0,
        by = route.label_y - LABEL_HEIGHT / 2.0,
        x = route.label_x,
        y = route.label_y,
        text = html_text(text),
    );
}

fn write_node(page: &mut String, node: &Node) {
    let Node {
        id,
        zone,
        title_lines,
        sub,
        tooltip,
        x,
        y,
        height,
    } = node;
    let (x, y, height) = (*x, *y, *height);
    let _ = write!(
        page,
        "<g class=\"node\" data-node=\"{}\" data-zone=\"{}\"><title>{}</title>",
        html_text(id),
        zone.id(),
        html_text(tooltip)
    );
    let text_x = if node.is_cloud() {
        let _ = write!(
            page,
            "<path class=\"cloud\" d=\"{}\"/>",
            cloud_path(x, y, NODE_WIDTH, height)
        );
        x + NODE_WIDTH / 2.0
    } else if *zone == Zone::Internet {
        let _ = write!(
            page,
            "<rect class=\"box\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_WIDTH:.1}\" \
             height=\"{height:.1}\" rx=\"24\"/>"
        );
        x + NODE_WIDTH / 2.0
    } else {
        let _ = write!(
            page,
            "<rect class=\"box\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{NODE_WIDTH:.1}\" height=\"{height:.1}\" rx=\"6\"/>\
             <rect class=\"icon\" x=\"{ix:.1}\" y=\"{iy:.1}\" width=\"16\" height=\"24\" rx=\"2\"/>\
             <line class=\"icon-line\" x1=\"{lx1:.1}\" y1=\"{ly1:.1}\" x2=\"{lx2:.1}\" y2=\"{ly1:.1}\"/>\
             <line class=\"icon-line\" x1=\"{lx1:.1}\" y1=\"{ly2:.1}\" x2=\"{lx2:.1}\" y2=\"{ly2:.1}\"/>",
            ix = x + 12.0,
            iy = y + height / 2.0 - 12.0,
            lx1 = x + 15.0,
            lx2 = x + 25.0,
            ly1 = y + height / 2.0 - 6.0,
            ly2 = y + height / 2.0 - 1.0,
        );
        x + TEXT_INSET
    };
    let anchor = if *zone == Zone::Internet {
        "middle"
    } else {
        "start"
    };
    let available = if *zone == Zone::Internet {
        NODE_WIDTH - 40.0
    } else {
        NODE_WIDTH - TEXT_INSET - 10.0
    };
    for (line, title) in title_lines.iter().enumerate() {
        let ty = y + 22.0 + LINE_HEIGHT * line as f64;
        let fit = fit_attributes(title, TITLE_SIZE, available);
        let _ = write!(
            page,
            "<text class=\"title\" x=\"{text_x:.1}\" y=\"{ty:.1}\" text-anchor=\"{anchor}\"{fit}>{}</text>",
            html_text(title)
        );
    }
    let sy = y + 22.0 + LINE_HEIGHT * title_lines.len() as f64 + 2.0;
    let fit = fit_attributes(sub, SUB_SIZE, available);
    let _ = writeln!(
        page,
        "<text class=\"sub\" x=\"{text_x:.1}\" y=\"{sy:.1}\" text-anchor=\"{anchor}\"{fit}>{}</text></g>",
        html_text(sub)
    );
}

/// Returns `textLength` attributes that squeeze `text` into `available`
/// pixels when it would not fit, or nothing.
fn fit_attributes(text: &str, size: f64, available: f64) -> String {
    if estimate_width(text, size) > available {
        format!(" textLength=\"{available:.0}\" lengthAdjust=\"spacingAndGlyphs\"")
    } else {
        String::new()
    }
}

/// Returns an SVG path of a cloud filling the box at (`x`, `y`).
fn cloud_path(x: f64, y: f64, width: f64, height: f64) -> String {
    let point = |fx: f64, fy: f64| format!("{:.1},{:.1}", x + fx * width, y + fy * height);
    format!(
        "M{} C{} {} {} C{} {} {} C{} {} {} C{} {} {} C{} {} {} Z",
        point(0.16, 1.0),
        point(-0.02, 1.0),
        point(-0.02, 0.45),
        point(0.14, 0.42),
        point(0.12, 0.0),
        point(0.42, -0.12),
        point(0.50, 0.14),
        point(0.62, -0.10),
        point(0.88, 0.02),
        point(0.86, 0.40),
        point(1.02, 0.42),
        point(1.02, 1.0),
        point(0.86, 1.0),
        point(0.6, 1.0),
        point(0.4, 1.0),
        point(0.16, 1.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_follow_the_exchange_diagrams() {
        assert_eq!(Zone::of("internet"), Zone::Internet);
        assert_eq!(Zone::of("edge_transport"), Zone::Perimeter);
        assert_eq!(Zone::of("proxy"), Zone::Perimeter);
        assert_eq!(Zone::of("client_access+mailbox"), Zone::Internal);
        assert_eq!(Zone::of("internal"), Zone::Internal);
        assert_eq!(Zone::of("dns+domain_controller"), Zone::Internal);
    }

    #[test]
    fn stroke_width_grows_with_log_of_flows() {
        assert_eq!(stroke_width(1), 1.6);
        assert!((stroke_width(10) - 3.5).abs() < 1e-9);
        assert!(stroke_width(1000) > stroke_width(100));
        assert_eq!(stroke_width(u64::MAX), 9.0);
    }

    #[test]
    fn arc_label_lies_on_the_arc() {
        // Halfway up a symmetric arc, x is three quarters of the way to the
        // control points.
        let x = arc_x_at(100.0, 200.0, 0.0, 100.0, 50.0);
        assert!((x - 175.0).abs() < 0.01, "{x}");
        // Near an end, the arc is close to the node.
        assert!(arc_x_at(100.0, 200.0, 0.0, 100.0, 1.0) < 130.0);
    }
}

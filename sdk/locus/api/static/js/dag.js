// Layered layout of a directed acyclic graph, left to right: each node's
// column is its longest path from a root, and nodes within a column are
// ordered by the barycenter of their neighbours to keep edges from crossing.
// Pure functions of their input, so they can be tested without a browser.

/** Column per node: 0 for roots, else 1 + the deepest upstream column.
 * Edges to nodes outside the graph are ignored; a cycle (never expected
 * from a definitions snapshot) is broken where it is found. */
export function longestPathLayers(nodes) {
  const upstream = new Map(nodes.map((n) => [n.id, n.upstream.filter((u) => u !== n.id)]));
  const layer = new Map();
  const visiting = new Set();
  const visit = (id) => {
    if (layer.has(id)) return layer.get(id);
    if (visiting.has(id)) return -1;
    visiting.add(id);
    let deepest = -1;
    for (const up of upstream.get(id)) {
      if (upstream.has(up)) deepest = Math.max(deepest, visit(up));
    }
    visiting.delete(id);
    layer.set(id, deepest + 1);
    return deepest + 1;
  };
  for (const n of nodes) visit(n.id);
  return layer;
}

function barycenter(neighbours, position, fallback) {
  const known = neighbours.filter((id) => position.has(id));
  if (known.length === 0) return fallback;
  return known.reduce((sum, id) => sum + position.get(id), 0) / known.length;
}

/** Node order within each column: start alphabetical, then sweep down and
 * up a few times sorting by the mean position of neighbours. */
export function orderLayers(nodes, layer, sweeps = 4) {
  const ids = new Set(nodes.map((n) => n.id));
  const up = new Map(nodes.map((n) => [n.id, n.upstream.filter((u) => ids.has(u))]));
  const down = new Map(nodes.map((n) => [n.id, []]));
  for (const [id, ups] of up) for (const u of ups) down.get(u).push(id);
  const columns = [];
  for (const n of [...nodes].sort((a, b) => a.id.localeCompare(b.id))) {
    const i = layer.get(n.id);
    (columns[i] = columns[i] || []).push(n.id);
  }
  const position = new Map();
  const place = (column) => column.forEach((id, index) => position.set(id, index));
  columns.forEach(place);
  const sortBy = (column, neighbours) => {
    const keyed = column.map((id) => [barycenter(neighbours.get(id), position, position.get(id)), id]);
    keyed.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
    column.splice(0, column.length, ...keyed.map((k) => k[1]));
    place(column);
  };
  for (let sweep = 0; sweep < sweeps; sweep++) {
    for (let i = 1; i < columns.length; i++) sortBy(columns[i], up);
    for (let i = columns.length - 2; i >= 0; i--) sortBy(columns[i], down);
  }
  return columns;
}

/** Coordinates for boxes of size box.width x box.height, and edge paths.
 * nodes: [{id, upstream: [id]}]. Columns are centred vertically. */
export function layout(nodes, box = { width: 200, height: 64, gapX: 72, gapY: 20, margin: 16 }) {
  const layer = longestPathLayers(nodes);
  const columns = orderLayers(nodes, layer);
  const tallest = Math.max(0, ...columns.map((c) => c.length));
  const fullHeight = tallest * box.height + Math.max(0, tallest - 1) * box.gapY;
  const positions = new Map();
  columns.forEach((column, i) => {
    const height = column.length * box.height + (column.length - 1) * box.gapY;
    const top = box.margin + (fullHeight - height) / 2;
    column.forEach((id, j) => {
      positions.set(id, {
        x: box.margin + i * (box.width + box.gapX),
        y: top + j * (box.height + box.gapY),
        layer: i,
        order: j,
      });
    });
  });
  const edges = [];
  for (const n of nodes) {
    for (const u of n.upstream) {
      const from = positions.get(u);
      const to = positions.get(n.id);
      if (!from || !to || u === n.id) continue;
      const x1 = from.x + box.width;
      const y1 = from.y + box.height / 2;
      const x2 = to.x;
      const y2 = to.y + box.height / 2;
      const bend = Math.max(24, (x2 - x1) / 2);
      edges.push({ from: u, to: n.id, path: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}` });
    }
  }
  const width = 2 * box.margin + columns.length * box.width + Math.max(0, columns.length - 1) * box.gapX;
  return { positions, edges, columns, width, height: 2 * box.margin + fullHeight };
}

// The three best-rated items of an earlier step's list, names only.
// `context` holds the inputs, every earlier step's output and the step's `with`;
// what the script sets as `result` is the step's output.
const items = context.items.slice();
items.sort((a, b) => b.rating - a.rating);
result = items.slice(0, context.count).map((item) => item.name);

import type { InstanceView, ServedTool } from '@dynmcp/common';
import MiniSearch, { type SearchResult } from 'minisearch';

/** One tool found by {@link searchTools}, best first. */
export interface ToolHit {
  tool: ServedTool;
  score: number;
}

/** What the index holds of one tool: words only, the tool itself is looked up by position. */
interface ToolDocument {
  id: number;
  name: string;
  title: string;
  description: string;
  parameters: string;
}

/**
 * Field weights. A tool's name and title say what it does in a few words (an imported REST API's
 * names are its operationIds, `pulls/list` → `pulls_list`); a description says it at length and
 * mentions neighbouring operations; parameter names only hint. Tuned on the GitHub relevance set
 * (apps/server/src/search/github-relevance.json).
 */
const BOOST = { name: 3, title: 3, description: 0.8, parameters: 0.3 };

/** Words too common in tool descriptions to tell tools apart. */
const STOP_WORDS = new Set(
  'a about an and are as at be by can detail details for from has have how i if in info information into is it its of on or our that the their them then there these this those to was what when which who will with you your all any do does give show'.split(
    ' ',
  ),
);

/**
 * Words a request uses for what a REST API names otherwise, folded to one word on both sides (index
 * and query), so "remove a repo" meets `repos_delete`. Kept to unambiguous pairs: a synonym that
 * also means something else costs more precision than it gains.
 */
const SYNONYMS: ReadonlyMap<string, string> = new Map(Object.entries({
  repo: 'repository',
  pr: 'pull',
  org: 'organization',
  remove: 'delete',
  erase: 'delete',
  destroy: 'delete',
  fetch: 'get',
  retrieve: 'get',
  read: 'get',
  modify: 'update',
  edit: 'update',
  change: 'update',
  new: 'create',
  make: 'create',
  open: 'create',
  enumerate: 'list',
  account: 'user',
  person: 'user',
  people: 'user',
  // A request says "my"; GitHub's operations say "for the authenticated user".
  me: 'authenticated',
  my: 'authenticated',
  mine: 'authenticated',
  publish: 'create',
  stargazer: 'star',
  starred: 'star',
  favorite: 'star',
  favourite: 'star',
  bookmark: 'star',
  reply: 'comment',
  ci: 'workflow',
  pipeline: 'workflow',
  hook: 'webhook',
  file: 'content',
}));

/** A plural or third person folded to its stem: `repositories` → `repository`, `lists` → `list`. */
function singular(word: string): string {
  if (word.length > 4 && word.endsWith('ies')) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && /(ches|shes|sses|xes)$/.test(word)) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith('s') && !/(ss|us|is)$/.test(word)) return word.slice(0, -1);
  return word;
}

/**
 * Lower case, no stop words, singular, synonyms folded; `null` drops the word. Synonyms are a Map:
 * the words come from definitions and queries, and a plain object would answer "constructor" with
 * a function.
 */
function processTerm(term: string): string | null {
  const lower = term.toLowerCase();
  if (lower.length < 2 || STOP_WORDS.has(lower)) return null;
  const base = singular(lower);
  return SYNONYMS.get(base) ?? SYNONYMS.get(lower) ?? base;
}

/** Words of names and text: split on anything not a letter or digit, and between camelCase humps. */
function tokenize(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word !== '');
}

function documentOf(tool: ServedTool, id: number): ToolDocument {
  const listing = tool.listing;
  const properties = listing.inputSchema['properties'];
  const parameters = properties !== null && typeof properties === 'object' ? Object.keys(properties).join(' ') : '';
  return { id, name: listing.name, title: listing.title ?? '', description: listing.description ?? '', parameters };
}

/** The index of one view, and its tools by the index's document id. */
interface ToolIndex {
  search: MiniSearch<ToolDocument>;
  tools: readonly ServedTool[];
}

/** Documents added per slice while building; other requests run between slices. */
const CHUNK = 250;

// One index per view: a view is rebuilt whenever its instance or one of its tools changes, so an
// index never outlives the definitions revision it was built from, and dies with its view.
const indexes = new WeakMap<InstanceView, Promise<ToolIndex>>();

function newSearch(): MiniSearch<ToolDocument> {
  return new MiniSearch<ToolDocument>({
    fields: ['name', 'title', 'description', 'parameters'],
    tokenize,
    processTerm,
    searchOptions: {
      boost: BOOST,
      // "follow" finds "followers", "protect" "protection". Typo tolerance (fuzzy) gained nothing on
      // the relevance set and cost a third of the time of a search over 10k tools.
      prefix: (term) => term.length >= 4,
      weights: { fuzzy: 0.3, prefix: 0.6 },
    },
  });
}

/**
 * The search index of a view's tools, built on its first search, in slices of {@link CHUNK} tools
 * so that indexing a catalogue of ten thousand never holds up other requests for long.
 */
export function toolIndexOf(view: InstanceView): Promise<ToolIndex> {
  let index = indexes.get(view);
  if (index === undefined) {
    const tools = view.tools;
    const search = newSearch();
    const documents = tools.map(documentOf);
    index = search.addAllAsync(documents, { chunkSize: CHUNK }).then(() => ({ search, tools }));
    indexes.set(view, index);
  }
  return index;
}

/**
 * The first `limit` of `results` (MiniSearch sorts them by score), equal scores in name order, so
 * the same query always gives the same list. A broad query matches thousands of tools: only the
 * results that can reach the first `limit` (ties with the last one included) are sorted again.
 */
function topOf(index: ToolIndex, results: SearchResult[], limit: number): SearchResult[] {
  let end = Math.min(limit, results.length);
  const last = results[end - 1]?.score;
  while (end < results.length && results[end]?.score === last) end += 1;
  const nameOf = (result: SearchResult) => (index.tools[result.id as number] as ServedTool).listing.name;
  const top = results.slice(0, end).sort((a, b) => {
    if (b.score !== a.score) return b.score - a.score;
    const nameA = nameOf(a);
    const nameB = nameOf(b);
    return nameA < nameB ? -1 : nameA > nameB ? 1 : 0;
  });
  return top.slice(0, limit);
}

/** The `limit` tools of `view` most relevant to `query` (BM25 over names, titles, descriptions, parameter names). */
export async function searchTools(view: InstanceView, query: string, limit: number): Promise<ToolHit[]> {
  const index = await toolIndexOf(view);
  return topOf(index, index.search.search(query), limit).map((result) => ({ tool: index.tools[result.id as number] as ServedTool, score: result.score }));
}

/** Names of `view`'s tools closest to a name that matched none, for the error that says so. */
export async function closestNames(view: InstanceView, name: string, limit: number): Promise<string[]> {
  const index = await toolIndexOf(view);
  const results = index.search.search(name, { fields: ['name', 'title'], fuzzy: 0.3, prefix: true });
  return topOf(index, results, limit).map((result) => (index.tools[result.id as number] as ServedTool).listing.name);
}

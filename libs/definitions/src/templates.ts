/**
 * Light static check of inline Liquid templates: balanced `{{ }}` / `{% %}`, no tag that reads other
 * templates (`include`, `render`, `layout`: templates cannot read files) and, for output tags, that
 * the root variable is one the workflow can see (`{{ add.properties.sku }}` needs alias `add`).
 */
export function checkTemplate(text: string, variables: ReadonlySet<string>, lenient: boolean): string[] {
  const errors: string[] = [];
  const tag = /\{\{([\s\S]*?)\}\}|\{%([\s\S]*?)%\}/g;
  let stripped = text.replace(tag, '');
  if (
    stripped.includes('{{') ||
    stripped.includes('}}') ||
    stripped.includes('{%') ||
    stripped.includes('%}')
  ) {
    errors.push("unbalanced Liquid delimiters: every '{{' needs '}}' and every '{%' needs '%}'");
    stripped = '';
  }
  for (const m of text.matchAll(/\{%-?\s*(include|render|layout)\b/g)) {
    errors.push(`{% ${m[1]} %} is not supported: templates cannot read files or other templates`);
  }
  for (const m of text.matchAll(/\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)/g)) {
    const root = m[1];
    if (!variables.has(root) && !lenient && !/^(true|false|nil|null|empty|blank|forloop)$/.test(root)) {
      errors.push(`unknown variable '${root}' in template (available: ${[...variables].join(', ')})`);
    }
  }
  return errors;
}

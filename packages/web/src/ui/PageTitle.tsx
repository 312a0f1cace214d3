/** Sets the document title for the page rendering it (React 19 hoists `<title>` into `<head>`). */
export function PageTitle({ title }: { title: string }) {
  return <title>{`${title} · chatd`}</title>;
}

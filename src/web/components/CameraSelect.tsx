/** @jsxImportSource hono/jsx */
/**
 * The "Camera" filter of the search forms: a `<select name="camera">` with an "all" option and
 * one option per camera (value = key, label = name); `selected` is the chosen key, if any.
 */
export function CameraSelect(props: { cameras: { key: string; name: string }[]; selected?: string | null }) {
  return (
    <label>
      Camera
      <select name="camera">
        <option value="">all</option>
        {props.cameras.map((k) => (
          <option value={k.key} selected={k.key === props.selected}>
            {k.name}
          </option>
        ))}
      </select>
    </label>
  );
}

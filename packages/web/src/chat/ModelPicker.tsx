import type { ModelConfig } from '../api/types';

/** The model a new chat uses: the enabled model configs, the default one first selected. */
export function ModelPicker({
  models,
  value,
  onChange,
}: {
  models: readonly ModelConfig[];
  value: string;
  onChange: (id: string) => void;
}) {
  return (
    <label className="field field-inline">
      <span>Model</span>
      <select value={value} onChange={(event) => onChange(event.target.value)}>
        {models.map((model) => (
          <option key={model.id} value={model.id}>
            {model.display_name}
            {model.is_default ? ' (default)' : ''}
          </option>
        ))}
      </select>
    </label>
  );
}

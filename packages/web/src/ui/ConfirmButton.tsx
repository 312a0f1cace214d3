import { useState } from 'react';

/**
 * A destructive action in two steps: the button asks first ("Delete? Yes / Cancel"), inline, so that it
 * works by keyboard and in tests without a browser dialog.
 */
export function ConfirmButton({
  label,
  confirmLabel,
  question,
  onConfirm,
  disabled,
}: {
  label: string;
  confirmLabel: string;
  question: string;
  onConfirm: () => void;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking)
    return (
      <button type="button" className="button-small" disabled={disabled} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  return (
    <span className="confirm">
      <span>{question}</span>
      <button
        type="button"
        className="button-small button-danger"
        // biome-ignore lint/a11y/noAutofocus: the question was just asked; its answer is where focus belongs
        autoFocus
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" className="button-small" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

import { useSession } from '../session/session-context';
import { useAction } from '../ui/use-action';

/** Ends the session. */
export function LogOutButton() {
  const { logOut } = useSession();
  const action = useAction(logOut);
  return (
    <button type="button" className="button-ghost" disabled={action.busy} onClick={() => void action.run()}>
      Log out
    </button>
  );
}

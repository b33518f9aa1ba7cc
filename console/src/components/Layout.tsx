/** The frame of every signed-in screen: skip link, navigation by permission, who is signed in. */
import { NavLink, Outlet } from "react-router";
import { useSession } from "../session";

interface NavItem {
  readonly to: string;
  readonly label: string;
  /** Shown only to keys whose role has this permission. */
  readonly permission: string;
}

export const navItems: readonly NavItem[] = [
  { to: "/dags", label: "DAGs", permission: "dags:read" },
  { to: "/submit", label: "Submit a DAG", permission: "dags:submit" },
  { to: "/approvals", label: "Approvals", permission: "approvals:read" },
  { to: "/cost", label: "Cost", permission: "dags:read" },
  { to: "/budgets", label: "Budgets", permission: "agents:read" },
  { to: "/keys", label: "API keys", permission: "api_keys:manage" },
];

export function Layout() {
  const { me, can, signOut } = useSession();
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <span className="brand">Apex console</span>
        <nav aria-label="Main">
          <ul>
            {navItems
              .filter((item) => can(item.permission))
              .map((item) => (
                <li key={item.to}>
                  <NavLink to={item.to}>{item.label}</NavLink>
                </li>
              ))}
          </ul>
        </nav>
        <div className="who" aria-label="Signed in as">
          <span>{me.key.name}</span> <span className={`role role-${me.key.role}`}>{me.key.role}</span>
          <button type="button" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}

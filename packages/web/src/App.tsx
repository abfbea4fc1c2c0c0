// Every page of the app and where it lives. Email links land on /confirm-email, /reset-password and
// /accept-invitation (the server builds them from WEB_CLIENT_URL); Stripe returns to
// /organizations/:organizationId/billing.
import { Navigate, Route, Routes } from 'react-router';
import { AccountPage } from './pages/AccountPage';
import { AdminPage } from './pages/admin/AdminPage';
import { AcceptInvitationPage } from './pages/auth/AcceptInvitationPage';
import { ForgotPasswordPage } from './pages/auth/ForgotPasswordPage';
import { ResetPasswordPage } from './pages/auth/ResetPasswordPage';
import { SignInPage } from './pages/auth/SignInPage';
import { SignUpPage } from './pages/auth/SignUpPage';
import { VerifyEmailPage } from './pages/auth/VerifyEmailPage';
import { CreateTeamPage } from './pages/CreateTeamPage';
import { HomeRedirect } from './pages/HomeRedirect';
import { NotFoundPage } from './pages/NotFoundPage';
import { AuditPage } from './pages/org/AuditPage';
import { BillingPage } from './pages/org/BillingPage';
import { FilesPage } from './pages/org/FilesPage';
import { MembersPage } from './pages/org/MembersPage';
import { OrgLayout } from './pages/org/OrgLayout';
import { SettingsPage } from './pages/org/SettingsPage';
import { TasksPage } from './pages/org/TasksPage';
import { PublicLayout, RequireSignIn, Shell } from './shell';

export function App() {
  return (
    <Routes>
      <Route element={<PublicLayout />}>
        <Route path="/sign-in" element={<SignInPage />} />
        <Route path="/sign-up" element={<SignUpPage />} />
        <Route path="/forgot-password" element={<ForgotPasswordPage />} />
        <Route path="/reset-password" element={<ResetPasswordPage />} />
        <Route path="/confirm-email" element={<VerifyEmailPage />} />
        <Route path="/verify-email" element={<VerifyEmailPage />} />
        <Route path="/accept-invitation" element={<AcceptInvitationPage />} />
      </Route>
      <Route
        element={
          <RequireSignIn>
            <Shell />
          </RequireSignIn>
        }
      >
        <Route index element={<HomeRedirect />} />
        <Route path="/new-team" element={<CreateTeamPage />} />
        <Route path="/account" element={<AccountPage />} />
        <Route path="/admin" element={<AdminPage />} />
        <Route path="/organizations/:organizationId" element={<OrgLayout />}>
          <Route index element={<Navigate to="tasks" replace />} />
          <Route path="tasks" element={<TasksPage />} />
          <Route path="files" element={<FilesPage />} />
          <Route path="members" element={<MembersPage />} />
          <Route path="billing" element={<BillingPage />} />
          <Route path="audit" element={<AuditPage />} />
          <Route path="settings" element={<SettingsPage />} />
        </Route>
      </Route>
      <Route path="*" element={<NotFoundPage />} />
    </Routes>
  );
}

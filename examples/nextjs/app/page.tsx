export default function Page() {
  return (
    <main>
      <p>
        Events stream from <code>/api/events</code>; publish with <code>POST /api/publish</code>.
      </p>
    </main>
  );
}

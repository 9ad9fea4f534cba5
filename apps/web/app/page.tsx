export default function HomePage() {
  return (
    <main>
      <h1>Gozon</h1>
      <p>Top up your wallet, place an order, and watch it settle live.</p>
    </main>
  );
}

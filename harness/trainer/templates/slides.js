document.addEventListener('keydown', e => {
  const step = {ArrowDown: 1, ArrowRight: 1, PageDown: 1, ' ': 1, ArrowUp: -1, ArrowLeft: -1, PageUp: -1}[e.key];
  if (!step) return;
  const slides = [...document.querySelectorAll('.slide')];
  const now = slides.findIndex(s => s.getBoundingClientRect().top > -window.innerHeight / 2);
  const next = slides[Math.min(slides.length - 1, Math.max(0, now + step))];
  if (next) { e.preventDefault(); next.scrollIntoView({behavior: 'smooth'}); }
});

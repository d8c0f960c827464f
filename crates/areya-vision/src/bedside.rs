//! Finding the patient's face the way a bed camera sees it: tilted or lying on its side on the
//! pillow, small in a wide view, dim at night. BlazeFace ([`crate::blazeface`]) looks at square
//! views of the bed area; this module decides which views, and keeps the patient's face from
//! frame to frame:
//!
//! - **Search** (no face being followed): the whole bed area, turned 0°, then +90° and −90°
//!   until one shows a face (the network itself copes with about ±45° of roll, so three turns
//!   cover every in-plane rotation a lying head takes); only if none does, a tile of it,
//!   upright, in a view of up to 256×256 (the network is convolutional), for faces too small
//!   to see in the whole view: a tile spans up to ten times the smallest face, so that face is
//!   a fifth of each 128-pixel stretch of the view, as the network sees faces best. A bed area
//!   that size is one tile; a larger one is covered by overlapping tiles, one a frame, the
//!   middle first, then farthest first (in a grid of four, the first two cover the whole
//!   area), so that an empty bed costs at most seven 128×128 views' worth a frame. A small
//!   face is a few dozen pixels of a tile and often scores less there than up close: when no
//!   face in the tile is sure, the surest small one scored at least the keeping threshold goes
//!   on to the confirmation, which must see it surely. A face of half a tile or more from the
//!   whole view is looked at again as a tile, and with no small face seen there, at the far
//!   search's scale (below): a small face inside it, down to `far_face`, replaces it (a pillow
//!   read as a head, the patient's face on it as its features), and one seen there neither
//!   small nor as itself is dropped (the pillow around a face too dim to make out).
//! - **Confirm**: a view around the face found, twice its size, turned by the roll its eyes
//!   show, so the face stands upright and fills the view: a tighter box, better landmarks, and
//!   a second chance to reject what was not a face. BlazeFace also finds faces upside down in a
//!   view (reading their landmarks as if upright), so the opposite turn is looked at as well
//!   and the surer view wins.
//! - **Track**: the next frame looks there first, and there a lower score and a smaller face
//!   will do (hysteresis: 0.45 to keep a face, 0.6 to find one; three quarters of the smallest
//!   face a search takes). A face seen there less surely is reported where it
//!   is now but as large and turned as it was last seen surely, so a dim, noisy reading cannot
//!   walk the track off the face; at most ten frames in a row, then the face must be seen
//!   surely again; a reading turned more than 45° from the last is not taken.
//!   A single missed frame keeps the track (the frame itself reports no face: nothing is
//!   classified that was not seen), and while a track lives a face elsewhere in the bed area is
//!   not taken for the patient; after two misses in a row the search starts again and the
//!   largest face in the bed area is the patient.
//! - **Rest**: after ten searches in a row found nothing (a bed with nobody in it, a patient
//!   turned away), the bed is searched on one frame in three until a face is found again.
//! - **A far camera**: after ten frames without a face, every other search looks for faces
//!   down to `far_face` (30 px) instead of `min_face` (40 px), with tiles of their own; once a
//!   face that small is confirmed, the camera is far from its bed, and its searches take faces
//!   that small from then on. A near camera's searches keep `min_face`, since small boxes in a
//!   bed's folds are where false faces come from.
//! - A face whose centre leaves the bed area is never reported, tracked or not.

use crate::blazeface::{
    BlazeFace, Detection, INPUT, LEFT_EAR, LEFT_EYE, MOUTH, RIGHT_EAR, RIGHT_EYE,
};
use crate::roi::Roi;
use crate::view::{detector_input, turned, Mipmap, View};
use crate::{GrayFrame, VisionError};
use areya_core::FaceBox;

/// What the finder is told.
#[derive(Debug, Clone, PartialEq)]
pub struct FinderConfig {
    /// Smallest face a search finds, in frame pixels (its box side); a followed face may read
    /// down to `keep_size` of it.
    pub min_face: u32,
    /// BlazeFace score a face needs to be found, 0..1.
    pub threshold: f32,
    /// BlazeFace score the followed face needs in the view around where it was, 0..1: lower
    /// than `threshold` (hysteresis), since a face known to be there and seen again at the
    /// same place a moment later is surer than the score alone says.
    pub keep_threshold: f32,
    /// The followed face is kept down to this share of `min_face`, (0, 1]: the same
    /// hysteresis for size. A face found at about the smallest size reads a little smaller
    /// now and then (the box of a face image 60 px across is about 40 px) and is no less the
    /// patient's for it; a search still needs `min_face`, since small boxes in a bed's folds
    /// are where false faces come from.
    pub keep_size: f32,
    /// The turns a search tries, in degrees, in order.
    pub sweep: Vec<f32>,
    /// Tiles of the bed area a search looks at, per frame, when the whole of it shows no face
    /// (small faces); 0: none.
    pub tiles_per_frame: usize,
    /// The largest side of a tile's view in detector pixels, a multiple of 16 from 128 to 512:
    /// a tile spans up to `tile_view / 128` × five times `min_face`, so the smallest face is a
    /// fifth of each 128-pixel stretch of it, and a larger view covers more of the bed in one
    /// look (256: four times the area of a 128 view at about four times the cost, without the
    /// seams between four tiles).
    pub tile_view: usize,
    /// When no face in the tiles is sure, hand the surest small one scored at least
    /// `keep_threshold` to the confirmation, which must then see it surely up close: a small
    /// face is a few dozen pixels of a tile, where a face its close view shows surely often
    /// scores under `threshold`.
    pub tile_hints: bool,
    /// Look at a large face (at least half a tile) the whole area's view finds again at the
    /// tiles' scale, then at the far search's: take a small face seen inside it, down to
    /// `far_face`, instead (the large one was its
    /// surroundings: a pillow read as a head, the patient's small face on it as its features),
    /// keep it if it is seen there as itself, and drop it if neither (the pillow around a face
    /// too dim to make out at that scale).
    pub look_inside: bool,
    /// Confirm each face found by a search in an upright view of it (see the module's notes).
    pub refine: bool,
    /// Follow the face from frame to frame (looking first where it was).
    pub track: bool,
    /// Searches in a row that found nothing after which the bed is searched on one frame in
    /// `rest_every` only (0: never rest): a bed with nobody in it, or a patient turned away,
    /// then costs a third of the views, and a face coming back is found at most
    /// `rest_every - 1` frames later (at 2 frames/s, a second).
    pub rest_after: u32,
    /// See `rest_after`; 1 or more.
    pub rest_every: u32,
    /// A camera farther from the bed than `min_face` assumes shows its patient's face smaller:
    /// once ten frames in a row showed no face, every other search looks for faces down to
    /// this side instead, and once one is confirmed there, this camera's searches take faces
    /// down to it from then on (its track keeps it). 0, or not under `min_face`: never.
    pub far_face: u32,
}

impl Default for FinderConfig {
    fn default() -> Self {
        FinderConfig {
            min_face: 40,
            threshold: 0.6,
            keep_threshold: 0.45,
            keep_size: 0.75,
            sweep: vec![0.0, 90.0, -90.0],
            tiles_per_frame: 1,
            tile_view: 256,
            tile_hints: true,
            look_inside: true,
            refine: true,
            track: true,
            rest_after: 10,
            rest_every: 3,
            far_face: 30,
        }
    }
}

impl FinderConfig {
    pub fn validate(&self) -> Result<(), VisionError> {
        if !(20..=4096).contains(&self.min_face) {
            return Err(VisionError::config("min_face", "must be 20 to 4096 pixels"));
        }
        if !(0.05..1.0).contains(&self.threshold) {
            return Err(VisionError::config("threshold", "must be in [0.05, 1)"));
        }
        if !(0.05..=self.threshold).contains(&self.keep_threshold) {
            return Err(VisionError::config(
                "keep_threshold",
                "must be in [0.05, threshold]",
            ));
        }
        if !(self.keep_size > 0.0 && self.keep_size <= 1.0) {
            return Err(VisionError::config("keep_size", "must be in (0, 1]"));
        }
        if !(INPUT..=512).contains(&self.tile_view) || !self.tile_view.is_multiple_of(16) {
            return Err(VisionError::config(
                "tile_view",
                "must be a multiple of 16 from 128 to 512 pixels",
            ));
        }
        if self.far_face != 0 && !(20..=4096).contains(&self.far_face) {
            return Err(VisionError::config(
                "far_face",
                "must be 0 or 20 to 4096 pixels",
            ));
        }
        if self.rest_every == 0 {
            return Err(VisionError::config("rest_every", "must be 1 or more"));
        }
        if self.sweep.is_empty() || self.sweep.iter().any(|a| !(-180.0..=180.0).contains(a)) {
            return Err(VisionError::config(
                "sweep",
                "one or more turns in [-180, 180] degrees",
            ));
        }
        Ok(())
    }
}

/// A face in frame coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face {
    /// Centre of the face box, frame pixels.
    pub cx: f32,
    pub cy: f32,
    /// Side of the face box in the face's own upright axes, frame pixels.
    pub side: f32,
    /// In-plane rotation: the direction of the line from the right eye to the left eye in the
    /// frame (radians, clockwise on screen; 0 is upright, ±π/2 a head lying on its side).
    pub roll: f32,
    /// BlazeFace's probability, 0..1.
    pub score: f32,
    /// Right eye, left eye, nose tip, mouth, right ear, left ear; frame pixels.
    pub landmarks: [(f32, f32); 6],
}

impl Face {
    /// The smallest upright box holding the face's (rotated) square: what an observation
    /// reports and the bed area is checked against.
    pub fn bounding_box(&self) -> FaceBox {
        let (sin, cos) = self.roll.sin_cos();
        let half = self.side / 2.0 * (sin.abs() + cos.abs());
        let side = (2.0 * half).round().max(1.0) as u32;
        FaceBox {
            x: (self.cx - half).round() as i32,
            y: (self.cy - half).round() as i32,
            width: side,
            height: side,
            score: f64::from(self.score),
        }
    }

    /// The face's box in its own upright axes, as an axis-aligned [`FaceBox`] around its
    /// centre: what a crop is measured against.
    pub fn upright_box(&self) -> FaceBox {
        let side = self.side.round().max(1.0) as u32;
        FaceBox {
            x: (self.cx - self.side / 2.0).round() as i32,
            y: (self.cy - self.side / 2.0).round() as i32,
            width: side,
            height: side,
            score: f64::from(self.score),
        }
    }

    /// This face moved to (`cx`, `cy`), its size and roll kept, read with `score`.
    fn moved_to(&self, cx: f32, cy: f32, score: f32) -> Face {
        let (dx, dy) = (cx - self.cx, cy - self.cy);
        let mut landmarks = self.landmarks;
        for l in landmarks.iter_mut() {
            l.0 += dx;
            l.1 += dy;
        }
        Face {
            cx,
            cy,
            score,
            landmarks,
            ..*self
        }
    }

    fn distance(&self, o: &Face) -> f32 {
        ((self.cx - o.cx).powi(2) + (self.cy - o.cy).powi(2)).sqrt()
    }

    /// A detection in `view`, sampled at `input`² pixels, in frame coordinates.
    fn from_detection(d: &Detection, view: &View, input: usize) -> Face {
        let mut landmarks = [(0.0, 0.0); 6];
        for (l, p) in landmarks.iter_mut().zip(d.landmarks) {
            *l = view.to_frame(p.0, p.1, input);
        }
        let (cx, cy) = view.to_frame(d.cx, d.cy, input);
        Face {
            cx,
            cy,
            side: (d.w + d.h) / 2.0 * view.side / input as f32,
            roll: roll_of(&landmarks),
            score: d.score,
            landmarks,
        }
    }
}

/// The roll the landmarks show: the eye line, the ear line and the line from between the eyes
/// to the mouth (turned a quarter) each give the face's horizontal direction; their weighted
/// mean is steadier than the eyes alone (whose two points a few pixels apart make a noisy
/// angle on a small face).
fn roll_of(l: &[(f32, f32); 6]) -> f32 {
    let unit = |x: f32, y: f32| {
        let n = (x * x + y * y).sqrt().max(1e-6);
        (x / n, y / n)
    };
    let (re, le, mouth) = (l[RIGHT_EYE], l[LEFT_EYE], l[MOUTH]);
    let (rt, lt) = (l[RIGHT_EAR], l[LEFT_EAR]);
    let eyes = unit(le.0 - re.0, le.1 - re.1);
    let ears = unit(lt.0 - rt.0, lt.1 - rt.1);
    let mid = ((re.0 + le.0) / 2.0, (re.1 + le.1) / 2.0);
    let down = unit(mouth.0 - mid.0, mouth.1 - mid.1);
    // "Down" turned a quarter counter-clockwise on screen points the way the eye line does.
    let across = (down.1, -down.0);
    let (x, y) = (
        eyes.0 + 0.5 * ears.0 + across.0,
        eyes.1 + 0.5 * ears.1 + across.1,
    );
    y.atan2(x)
}

/// The patient's face followed from frame to frame, one per camera.
#[derive(Debug, Clone, Default)]
pub struct Track {
    last: Option<Face>,
    misses: u32,
    /// Frames in a row the face was seen only less surely.
    weak: u32,
    /// The tile a search looks at next.
    next_tile: usize,
    /// Frames in a row without a track that showed no face, searched or rested.
    fruitless: u32,
    /// The tile a search for far faces looks at next (its tiles are smaller, so more).
    next_far_tile: usize,
    /// A face under `min_face` was confirmed here: this camera is far from its bed.
    far: bool,
    /// Whether the last search without a track looked for far faces (they alternate).
    far_turn: bool,
}

impl Track {
    /// A frame in which the face was seen.
    fn seen(&mut self, face: Face) {
        self.last = Some(face);
        self.misses = 0;
        self.weak = 0;
        self.fruitless = 0;
    }

    /// A frame in which the face was seen, but less surely: one more such frame in a row.
    fn seen_less_surely(&mut self, face: Face) {
        let weak = self.weak + 1;
        self.seen(face);
        self.weak = weak;
    }

    /// A frame without the followed face: one is bridged, the second ends the track. Without
    /// a track, one more search that found nothing.
    fn missed(&mut self) {
        if self.last.is_none() {
            // Wrapping: years of an empty bed start the ten searches over, never stop them.
            self.fruitless = self.fruitless.wrapping_add(1);
        } else {
            self.misses += 1;
            if self.misses >= 2 {
                *self = Track {
                    next_tile: self.next_tile,
                    next_far_tile: self.next_far_tile,
                    far: self.far,
                    far_turn: self.far_turn,
                    ..Track::default()
                };
            }
        }
    }

    /// Whether this frame goes unsearched: no track, `cfg.rest_after` frames in a row without a
    /// face, and not the `cfg.rest_every`th frame of the rest (a rested frame counts as one
    /// more without a face).
    fn rests(&mut self, cfg: &FinderConfig) -> bool {
        let rests = self.last.is_none()
            && cfg.rest_after > 0
            && self.fruitless >= cfg.rest_after
            && !(self.fruitless - cfg.rest_after + 1).is_multiple_of(cfg.rest_every);
        if rests {
            self.missed();
        }
        rests
    }

    /// The face being followed, if any.
    pub fn face(&self) -> Option<&Face> {
        self.last.as_ref()
    }

    /// Whether this camera has shown its patient's face under `min_face` (see
    /// [`FinderConfig::far_face`]).
    pub fn far(&self) -> bool {
        self.far
    }

    /// Whether this frame's search looks for far faces: on a far camera always; else, without a
    /// track and after [`FAR_AFTER`] frames in a row without a face, every other search (call
    /// once a frame that is searched).
    fn looks_far(&mut self, enabled: bool) -> bool {
        if !enabled {
            return false;
        }
        if self.far {
            return true;
        }
        if self.last.is_some() || self.fruitless < FAR_AFTER {
            return false;
        }
        self.far_turn = !self.far_turn;
        self.far_turn
    }
}

/// Frames in a row without a face after which every other search looks for far faces
/// ([`FinderConfig::far_face`]): a near camera's patient is found long before.
const FAR_AFTER: u32 = 10;

/// Views of a refine or track step: twice the face's size, turned upright.
const AROUND: f32 = 2.0;
/// A detection in a refine view farther than this (× the face's side) from where the face was
/// is another face.
const SAME_FACE: f32 = 0.6;
/// Frames in a row a followed face may be seen only less surely before it must be seen surely
/// again: a lower score bridges a dim or blurred moment, and never follows for long what may
/// be a pillow's fold where a face was.
const MAX_WEAK: u32 = 10;
/// A followed face read turned more than this from the last frame (radians) is a misreading —
/// most often the face read upside down — not a head that turned that far in a moment.
const MAX_TURN: f32 = std::f32::consts::FRAC_PI_4;

pub struct FaceFinder {
    net: BlazeFace,
    /// The same network at the sizes the search's tiles have needed so far (one per bed area
    /// in practice), built when first needed.
    tile_nets: std::cell::RefCell<Vec<std::sync::Arc<BlazeFace>>>,
    cfg: FinderConfig,
    /// Views run through the network so far, in 128×128 views' worth of pixels (a 256×256
    /// tile counts four): the cost the benchmark reports.
    views: std::cell::Cell<u64>,
}

impl FaceFinder {
    pub fn new(net: BlazeFace, cfg: FinderConfig) -> Result<Self, VisionError> {
        cfg.validate()?;
        let mut net = net;
        net.threshold = cfg.threshold;
        Ok(FaceFinder {
            tile_nets: Default::default(),
            net,
            cfg,
            views: Default::default(),
        })
    }

    /// The network for `input`² tiles.
    fn tile_net(&self, input: usize) -> Result<std::sync::Arc<BlazeFace>, VisionError> {
        let mut nets = self.tile_nets.borrow_mut();
        if let Some(n) = nets.iter().find(|n| n.input() == input) {
            return Ok(n.clone());
        }
        let n = std::sync::Arc::new(self.net.at(input)?);
        nets.push(n.clone());
        Ok(n)
    }

    /// What the finder was told.
    pub fn config(&self) -> &FinderConfig {
        &self.cfg
    }

    /// How many views the network has looked at, in 128×128 views' worth of pixels.
    pub fn views(&self) -> u64 {
        self.views.get()
    }

    /// Faces in one view, in frame coordinates.
    fn look(&self, frame: &Mipmap, view: &View) -> Result<Vec<Face>, VisionError> {
        self.look_above(frame, view, self.cfg.threshold)
    }

    /// Faces scored at least `threshold` in one view.
    fn look_above(
        &self,
        frame: &Mipmap,
        view: &View,
        threshold: f32,
    ) -> Result<Vec<Face>, VisionError> {
        self.look_at(&view.sample_mip(frame, INPUT), view, threshold)
    }

    /// Faces in `px`, the sample of `view`.
    fn look_at(&self, px: &[u8], view: &View, threshold: f32) -> Result<Vec<Face>, VisionError> {
        self.look_with(&self.net, px, view, threshold)
    }

    /// Faces `net` sees in `px`, its sample of `view`.
    fn look_with(
        &self,
        net: &BlazeFace,
        px: &[u8],
        view: &View,
        threshold: f32,
    ) -> Result<Vec<Face>, VisionError> {
        let units = (net.input() * net.input()).div_ceil(INPUT * INPUT) as u64;
        self.views.set(self.views.get() + units);
        Ok(net
            .detect_above(&detector_input(px), threshold)?
            .iter()
            .map(|d| Face::from_detection(d, view, net.input()))
            .collect())
    }

    /// A face at least `min_side` and inside the bed area.
    fn acceptable(&self, f: &Face, area: &Area, min_side: f32) -> bool {
        f.side >= min_side && area.contains(f.cx, f.cy)
    }

    /// The smallest face a search or confirmation takes.
    fn min_side(&self) -> f32 {
        self.cfg.min_face as f32
    }

    /// The smallest face a search for far faces takes, if there is one
    /// ([`FinderConfig::far_face`]).
    fn far_side(&self) -> Option<f32> {
        (self.cfg.far_face != 0 && self.cfg.far_face < self.cfg.min_face)
            .then_some(self.cfg.far_face as f32)
    }

    /// The faces a search of the area finds: the whole area at each turn of the sweep in order
    /// until one shows a face (BlazeFace finds most faces turned even 90° in the upright view,
    /// less surely; [`FaceFinder::confirm`] then sets their roll right); if none does, the next
    /// `tiles_per_frame` tiles of the area, upright, taking the tiles in turn from frame to frame
    /// (`next_tile`), so that a bed with nobody in it costs a bounded few views a frame. Each
    /// place keeps its best-scored face; with no sure face in the tiles, the surest less-sure
    /// small one (`tile_hints`); a large face of the whole area's view gets a second look
    /// inside it (`look_inside`).
    fn search(
        &self,
        frame: &Mipmap,
        area: &Area,
        min_side: f32,
        next_tile: &mut usize,
    ) -> Result<Vec<Face>, VisionError> {
        let side = area.w.max(area.h);
        let whole = View {
            cx: area.x + area.w / 2.0,
            cy: area.y + area.h / 2.0,
            side,
            angle: 0.0,
        };
        // The search's view from the frame itself: on the halvings, the rough faces a search
        // hands to the confirmation came out a little different, and a face lying near 75°
        // was confirmed 4° further off upright (vision test: rotated faces).
        let upright = whole.sample(frame.frame(), INPUT);
        for turn in &self.cfg.sweep {
            let view = View {
                angle: turn.to_radians(),
                ..whole
            };
            // Quarter turns of a square view are the same pixels rearranged.
            let quarters = (turn / 90.0).round();
            let found = if (turn - quarters * 90.0).abs() < 1e-3 {
                self.look_at(
                    &turned(&upright, INPUT, quarters as i32),
                    &view,
                    self.cfg.threshold,
                )?
            } else {
                self.look(frame, &view)?
            };
            let faces: Vec<Face> = found
                .into_iter()
                .filter(|f| self.acceptable(f, area, min_side))
                .collect();
            let mut faces = dedupe(faces);
            if let (Some(tiling), true) = (self.tiling(side, min_side), self.cfg.look_inside) {
                let mut kept = vec![];
                for f in faces {
                    kept.extend(self.look_inside(frame, area, f, min_side, tiling)?);
                }
                faces = kept;
            }
            if !faces.is_empty() {
                return Ok(faces);
            }
        }
        let Some((tile, input)) = self.tiling(side, min_side) else {
            return Ok(vec![]);
        };
        let net = self.tile_net(input)?;
        let tiles = tile_grid(area, tile);
        // `tile_hints`: the confirmation sees a hint at its own size, where it needs
        // `threshold` as any face found. Only small ones: a larger face is the whole area's
        // view's to find.
        let hint = if self.cfg.tile_hints {
            self.cfg.keep_threshold
        } else {
            self.cfg.threshold
        };
        let (mut faces, mut maybe) = (vec![], None::<Face>);
        for _ in 0..self.cfg.tiles_per_frame.min(tiles.len()) {
            let v = tiles[*next_tile % tiles.len()];
            *next_tile = (*next_tile + 1) % tiles.len();
            let px = v.sample_mip(frame, input);
            for f in self.look_with(&net, &px, &v, hint)? {
                if !self.acceptable(&f, area, min_side) {
                    continue;
                }
                if f.score >= self.cfg.threshold {
                    faces.push(f);
                } else if f.side <= tile / 4.0 && maybe.is_none_or(|m| f.score > m.score) {
                    maybe = Some(f);
                }
            }
        }
        if faces.is_empty() {
            return Ok(maybe.into_iter().collect());
        }
        Ok(dedupe(faces))
    }

    /// The search's tiles for a bed area whose longer side is `side`: a tile's side in frame
    /// pixels and its view's in detector pixels; none when the whole area's view already sees
    /// the smallest face (a face is seen reliably when its side is at least a fifth of a
    /// 128-pixel stretch of the view).
    fn tiling(&self, side: f32, min_side: f32) -> Option<(f32, usize)> {
        let fifth = min_side * 5.0;
        if self.cfg.tiles_per_frame == 0 || fifth.max(INPUT as f32) >= side * 0.8 {
            return None;
        }
        // Frame pixels per view pixel; a tile as large as `tile_view` allows, the whole area if
        // that fits, sampled at the multiple of 16 that keeps this scale.
        let per = fifth / INPUT as f32;
        let tile = side.min(per * self.cfg.tile_view as f32);
        let input = ((tile / per / 16.0).ceil() as usize * 16).clamp(INPUT, self.cfg.tile_view);
        Some((tile, input))
    }

    /// A large face the whole area's view found, looked at again at the tiles' scale: a small
    /// face seen inside it means the large one was its surroundings — a pillow read as a head,
    /// the patient's small face on it as its features — and the small one is the face; seen
    /// there neither small nor as itself, it was the pillow around a face too dim to make out,
    /// and is dropped (the tiles then search for the small one).
    fn look_inside(
        &self,
        frame: &Mipmap,
        area: &Area,
        face: Face,
        min_side: f32,
        (tile, input): (f32, usize),
    ) -> Result<Option<Face>, VisionError> {
        // Only faces at least half a tile (five times the smallest face at the default tile):
        // those a bed's pillow or blanket makes; a patient's face that large costs one view
        // more a search.
        if face.side < tile / 2.0 {
            return Ok(Some(face));
        }
        // Looked at at the tiles' scale, then, with no small face seen there and the far search
        // on, at its tiles' scale: the face on a pillow read as a head may be as small as a far
        // camera shows it (a large face itself fills that closer view too much to be seen
        // again there as surely).
        let mut looks = vec![(min_side, (tile, input))];
        if let Some(far) = self.far_side().filter(|&f| f < min_side) {
            looks.extend(self.tiling(area.w.max(area.h), far).map(|t| (far, t)));
        }
        let (mut inner, mut itself) = (None, false);
        for (min_side, (tile, input)) in looks {
            let view = View {
                cx: face.cx,
                cy: face.cy,
                side: tile,
                angle: 0.0,
            };
            let net = self.tile_net(input)?;
            let px = view.sample_mip(frame, input);
            // Less sure faces count here: the confirmation still needs `threshold` for either.
            let seen: Vec<Face> = self
                .look_with(&net, &px, &view, self.cfg.keep_threshold)?
                .into_iter()
                .filter(|f| self.acceptable(f, area, min_side))
                .filter(|f| f.distance(&face) < face.side / 2.0)
                .collect();
            inner = seen
                .iter()
                .filter(|f| f.side <= tile / 4.0 && f.side < face.side / 2.0)
                .max_by(|a, b| a.score.total_cmp(&b.score))
                .copied();
            itself |= seen
                .iter()
                .any(|f| f.side > face.side * 0.5 && f.side < face.side * 2.0);
            if inner.is_some() {
                break;
            }
        }
        Ok(inner.or(itself.then_some(face)))
    }

    /// A face from a search seen again upright, or nothing if it does not hold up. The box and
    /// roll read in a view where the face was small or leaned far are only roughly right, so
    /// the face is looked at twice, each time centred and turned by the last reading; and
    /// since a face upside down in a view is still found (with its landmarks read as if
    /// upright), the opposite turn is tried too and the surer of the two wins.
    fn confirm(
        &self,
        frame: &Mipmap,
        area: &Area,
        rough: &Face,
        min_side: f32,
    ) -> Result<Option<Face>, VisionError> {
        let threshold = self.cfg.threshold;
        // A face under the search's smallest is one found inside a pillow-sized one, as small
        // as the far search takes.
        let min_side = match self.far_side() {
            Some(far) if rough.side < min_side => far,
            _ => min_side,
        };
        let mut best = self.refine(frame, area, rough, threshold, min_side)?;
        if let Some(f) = best {
            if let Some(g) = self.refine(frame, area, &f, threshold, min_side)? {
                best = Some(g);
            }
        }
        let base = best.unwrap_or(*rough);
        let flipped = Face {
            roll: base.roll + std::f32::consts::PI,
            ..base
        };
        if let Some(g) = self.refine(frame, area, &flipped, threshold, min_side)? {
            if best.is_none_or(|b| g.score > b.score) {
                best = Some(g);
            }
        }
        Ok(best)
    }

    /// The face near `around` seen in an upright view of it, scored at least `threshold` and
    /// at least `min_side` large, if any.
    fn refine(
        &self,
        frame: &Mipmap,
        area: &Area,
        around: &Face,
        threshold: f32,
        min_side: f32,
    ) -> Result<Option<Face>, VisionError> {
        let view = View {
            cx: around.cx,
            cy: around.cy,
            side: (around.side * AROUND).max(INPUT as f32 / 2.0),
            angle: around.roll,
        };
        Ok(self
            .look_above(frame, &view, threshold)?
            .into_iter()
            .filter(|f| f.distance(around) <= SAME_FACE * around.side)
            .filter(|f| self.acceptable(f, area, min_side))
            .min_by(|a, b| a.distance(around).total_cmp(&b.distance(around))))
    }

    /// The patient's face in `frame`: followed from `track`, else searched for in the bed area
    /// (`roi`; the whole frame without one). Updates `track`.
    pub fn find(
        &self,
        frame: &GrayFrame,
        roi: Option<&Roi>,
        track: &mut Track,
    ) -> Result<Option<Face>, VisionError> {
        let area = Area::of(frame, roi);
        let frame = &Mipmap::new(frame);
        if !self.cfg.track {
            let min_side = self.min_side();
            let Some(rough) =
                largest(&self.search(frame, &area, min_side, &mut track.next_tile)?)
            else {
                return Ok(None);
            };
            let face = if self.cfg.refine {
                self.confirm(frame, &area, &rough, min_side)?
            } else {
                Some(rough)
            };
            return Ok(face);
        }
        if track.rests(&self.cfg) {
            return Ok(None);
        }
        let far = track.looks_far(self.far_side().is_some());
        let min_side = if far {
            self.cfg.far_face as f32
        } else {
            self.min_side()
        };
        if let Some(last) = track.last {
            let threshold = self.cfg.keep_threshold;
            let min_side = min_side * self.cfg.keep_size;
            if let Some(f) = self.refine(frame, &area, &last, threshold, min_side)? {
                let sure = f.score >= self.cfg.threshold;
                if sure && turn_between(last.roll, f.roll).abs() <= MAX_TURN {
                    track.seen(f);
                    return Ok(Some(f));
                }
                if !sure && track.weak < MAX_WEAK {
                    // Seen, but less surely: where it is now, as large and turned as it was
                    // last seen surely (a weak reading's size and roll wander, and the next
                    // frame's view is built from them).
                    let f = last.moved_to(f.cx, f.cy, f.score);
                    track.seen_less_surely(f);
                    return Ok(Some(f));
                }
            }
        }
        let next_tile = if far {
            &mut track.next_far_tile
        } else {
            &mut track.next_tile
        };
        let faces = self.search(frame, &area, min_side, next_tile)?;
        let pick = match track.last {
            // The patient may have moved; a face far from them is someone else unless the
            // track has already been missing for a frame.
            Some(last) => {
                let near = faces
                    .iter()
                    .filter(|f| f.distance(&last) <= 2.0 * last.side)
                    .min_by(|a, b| a.distance(&last).total_cmp(&b.distance(&last)));
                match near {
                    Some(f) => Some(*f),
                    None if track.misses >= 1 => largest(&faces),
                    None => None,
                }
            }
            None => largest(&faces),
        };
        let Some(rough) = pick else {
            track.missed();
            return Ok(None);
        };
        let Some(face) = self.confirm(frame, &area, &rough, min_side)? else {
            track.missed();
            return Ok(None);
        };
        track.far |= face.side < self.min_side();
        track.seen(face);
        Ok(Some(face))
    }
}

/// The smallest turn from `a` to `b`, radians in (-π, π].
fn turn_between(a: f32, b: f32) -> f32 {
    let d = (b - a).rem_euclid(std::f32::consts::TAU);
    if d > std::f32::consts::PI {
        d - std::f32::consts::TAU
    } else {
        d
    }
}

/// The search's tiles of `area`, each `tile` frame pixels square and overlapping its neighbours
/// by at least a quarter (a face up to a quarter of a tile lies whole in one; a larger one the
/// whole area's view sees), in the order they are looked at: the middle first, then farthest
/// first, so that in a grid of four the first two cover the whole area.
fn tile_grid(area: &Area, tile: f32) -> Vec<View> {
    let along = |len: f32, at: f32| -> Vec<f32> {
        let n = ((len - tile) / (tile * 0.75)).ceil().max(0.0) as usize + 1;
        (0..n)
            .map(|i| {
                let t = if n == 1 {
                    0.5
                } else {
                    i as f32 / (n - 1) as f32
                };
                at + tile / 2.0 + t * (len - tile).max(0.0)
            })
            .collect()
    };
    let mut tiles = vec![];
    for cy in along(area.h, area.y) {
        for cx in along(area.w, area.x) {
            tiles.push(View {
                cx,
                cy,
                side: tile,
                angle: 0.0,
            });
        }
    }
    farthest_first(tiles, area.x + area.w / 2.0, area.y + area.h / 2.0)
}

/// `tiles` reordered so that each comes as far as it can from all before it, starting with the
/// one nearest (`cx`, `cy`), the middle of the bed where a patient most often lies: a face
/// anywhere is in one of the first few looked at, whatever the grid.
fn farthest_first(mut tiles: Vec<View>, cx: f32, cy: f32) -> Vec<View> {
    let d2 = |a: &View, x: f32, y: f32| (a.cx - x).powi(2) + (a.cy - y).powi(2);
    let mut out: Vec<View> = vec![];
    while !tiles.is_empty() {
        // Ties go to the earliest in row-major order.
        let gap = |v: &View| {
            out.iter()
                .map(|o| d2(v, o.cx, o.cy))
                .fold(f32::MAX, f32::min)
        };
        let mut best = 0;
        for (i, v) in tiles.iter().enumerate() {
            let better = if out.is_empty() {
                d2(v, cx, cy) < d2(&tiles[best], cx, cy)
            } else {
                gap(v) > gap(&tiles[best])
            };
            if better {
                best = i;
            }
        }
        out.push(tiles.remove(best));
    }
    out
}

fn largest(faces: &[Face]) -> Option<Face> {
    faces
        .iter()
        .max_by(|a, b| a.side.total_cmp(&b.side))
        .copied()
}

/// Faces from overlapping tiles: one per place, the best-scored.
fn dedupe(mut faces: Vec<Face>) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut out: Vec<Face> = vec![];
    for f in faces {
        if out
            .iter()
            .all(|o| o.distance(&f) > 0.5 * o.side.max(f.side))
        {
            out.push(f);
        }
    }
    out
}

/// The bed area within the frame, in continuous frame coordinates.
struct Area {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

impl Area {
    fn of(frame: &GrayFrame, roi: Option<&Roi>) -> Area {
        let (fw, fh) = (frame.width as f32, frame.height as f32);
        match roi {
            Some(r) => {
                let x = (r.x as f32).min(fw - 1.0);
                let y = (r.y as f32).min(fh - 1.0);
                Area {
                    x,
                    y,
                    w: (r.width as f32).min(fw - x).max(1.0),
                    h: (r.height as f32).min(fh - y).max(1.0),
                }
            }
            None => Area {
                x: 0.0,
                y: 0.0,
                w: fw,
                h: fh,
            },
        }
    }

    fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.w && y < self.y + self.h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize) -> Vec<View> {
        let mut v = vec![];
        for y in 0..n {
            for x in 0..n {
                v.push(View {
                    cx: x as f32 * 100.0,
                    cy: y as f32 * 100.0,
                    side: 150.0,
                    angle: 0.0,
                });
            }
        }
        v
    }

    fn order(tiles: &[View], n: usize) -> Vec<usize> {
        let mid = (n - 1) as f32 * 50.0;
        farthest_first(tiles.to_vec(), mid, mid)
            .iter()
            .map(|v| (v.cy / 100.0) as usize * n + (v.cx / 100.0) as usize)
            .collect()
    }

    #[test]
    fn tiles_are_taken_from_the_middle_then_farthest_first() {
        // Four: the first two are opposite corners, together covering the area.
        assert_eq!(order(&grid(2), 2), vec![0, 3, 1, 2]);
        // Nine: the middle (where the patient most often lies), then the corners, which are
        // farthest from it, then the edges.
        let nine = order(&grid(3), 3);
        assert_eq!(nine[0], 4);
        let mut corners = nine[1..5].to_vec();
        corners.sort();
        assert_eq!(corners, vec![0, 2, 6, 8]);
        let mut all = nine.clone();
        all.sort();
        assert_eq!(all, (0..9).collect::<Vec<_>>(), "every tile once");
    }
}
